package e2ee

import "fmt"

// Codec is the media codec of a frame; it decides the clear prefix.
type Codec uint8

// The codecs an encrypted room carries (docs/e2ee.md: VP8 only for video,
// Opus for audio).
const (
	CodecOpus Codec = iota
	CodecVP8
)

func (c Codec) String() string {
	switch c {
	case CodecOpus:
		return "opus"
	case CodecVP8:
		return "vp8"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// Context is the media context of a KID (RFC 9605 §5.2's context bits):
// one sender runs one counter sequence per context.
type Context uint8

// The contexts of docs/e2ee.md.
const (
	ContextAudio  Context = 0
	ContextCamera Context = 1
	ContextScreen Context = 2
)

// Codec returns the codec a context's frames are in: Opus for audio, VP8
// for camera and screen share.
func (c Context) Codec() Codec {
	if c == ContextAudio {
		return CodecOpus
	}
	return CodecVP8
}

// KID layout (RFC 9605 §5.2 with E = 4, S = 9).
const (
	epochBits = 4
	indexBits = 9
	// MaxMembers is how many sender indexes a KID can name.
	MaxMembers = 1 << indexBits
)

// MakeKID returns context << 13 | index << 4 | (epoch mod 16).
func MakeKID(ctx Context, index uint16, epoch uint32) uint64 {
	return uint64(ctx)<<(indexBits+epochBits) |
		uint64(index&(MaxMembers-1))<<epochBits |
		uint64(epoch&(1<<epochBits-1))
}

// SplitKID is the inverse of MakeKID; epochLow is the epoch mod 16.
func SplitKID(kid uint64) (ctx Context, index uint16, epochLow uint8) {
	return Context(kid >> (indexBits + epochBits)),
		uint16(kid>>epochBits) & (MaxMembers - 1),
		uint8(kid & (1<<epochBits - 1))
}

// VP8 clear prefix lengths: a key frame keeps its 3-byte frame tag and the
// 7 bytes of start code and dimensions clear, a delta frame its first byte
// (with the P bit the bridge reads).
const (
	vp8KeyPrefix   = 10
	vp8DeltaPrefix = 1
)

// ClearPrefixLen returns how many leading bytes of a frame stay clear for
// the bridge: VP8 10 on a key frame (byte 0's P bit is 0), else 1; Opus 0.
// The same rule runs on the sender's plaintext and the receiver's
// ciphertext, since the prefix is identical in both.
func ClearPrefixLen(codec Codec, frame []byte) int {
	if codec != CodecVP8 || len(frame) == 0 {
		return 0
	}
	if frame[0]&0x01 == 0 {
		return vp8KeyPrefix
	}
	return vp8DeltaPrefix
}

// Overhead is the most an encrypted frame grows: the longest header and the tag.
const Overhead = MaxHeaderSize + TagSize
