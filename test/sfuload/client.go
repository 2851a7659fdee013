package main

import (
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// netConfig says where the clients gather their ICE candidates.
type netConfig struct {
	iface string // interface name
	ip    net.IP // the one address used on it
}

// newAPI returns a Pion API for the load clients: VP8 and Opus only, no header extensions, no
// interceptors (no NACK, reports or TWCC: both SFUs get the same plain streams, and the clients spend
// as little CPU as they can), ICE on one IPv4 address only.
func newAPI(nc netConfig) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack", Parameter: "pli"}}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: ptVP8}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType: ptOpus}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(nc.ip.IsLoopback())
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(nc.ip) })
	se.SetInterfaceFilter(func(name string) bool { return name == nc.iface })
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
		webrtc.WithSettingEngine(se)), nil
}

// drainRTCP reads a sender's RTCP so Pion's buffers never fill (keyframe requests are not obeyed: the
// fixture has a key frame every second).
func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

// onTracks makes pc count every remote track into st.
func onTracks(pc *webrtc.PeerConnection, st *stats) {
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		go receive(tr, st)
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := r.Read(buf); err != nil {
					return
				}
			}
		}()
	})
}

// answerAfterGathering sets remote offer, answers, and waits for ICE gathering to complete (no trickle).
func answerAfterGathering(pc *webrtc.PeerConnection, offer string) (string, error) {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", err
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return "", err
	}
	<-gathered
	return pc.LocalDescription().SDP, nil
}
