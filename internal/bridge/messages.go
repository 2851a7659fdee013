package bridge

// Bridge channel messages (dialect §6.2). Every message is a JSON object with a colibriClass.
const (
	classClientHello         = "ClientHello"
	classServerHello         = "ServerHello"
	classEndpointMessage     = "EndpointMessage"
	classEndpointStats       = "EndpointStats"
	classLastNChanged        = "LastNChangedEvent"
	classReceiverConstraints = "ReceiverVideoConstraints"
	classSourceVideoType     = "SourceVideoTypeMessage"
	classConnectivityStatus  = "EndpointConnectivityStatusChangeEvent"
	classForwardedSources    = "ForwardedSources"
	classVideoSourcesMap     = "VideoSourcesMap"
	classAudioSourcesMap     = "AudioSourcesMap"
	classDominantSpeaker     = "DominantSpeakerEndpointChangeEvent"
	classSenderConstraints   = "SenderSourceConstraints"
)

type serverHello struct {
	Class   string `json:"colibriClass"`
	Version string `json:"version,omitempty"`
}

type connectivityStatus struct {
	Class    string `json:"colibriClass"`
	Endpoint string `json:"endpoint"`
	Active   string `json:"active"` // "true" / "false": a string on the wire
}

// dominantSpeakerEvent names the conference's dominant speaker; Previous lists earlier dominant speakers
// still present, most recent first. Silence is always false: the bridge keeps the last speaker when
// nobody speaks rather than announcing silence.
type dominantSpeakerEvent struct {
	Class    string   `json:"colibriClass"`
	Endpoint string   `json:"dominantSpeakerEndpoint"`
	Previous []string `json:"previousSpeakers"`
	Silence  bool     `json:"silence"`
}

// senderSourceConstraints tells a sender the tallest video any receiver wants of one of its sources, so
// it can stop encoding taller simulcast layers: -1 unlimited, 0 nobody.
type senderSourceConstraints struct {
	Class      string `json:"colibriClass"`
	SourceName string `json:"sourceName"`
	MaxHeight  int    `json:"maxHeight"`
}

type forwardedSources struct {
	Class   string   `json:"colibriClass"`
	Sources []string `json:"forwardedSources"`
}

type sourcesMap struct {
	Class  string         `json:"colibriClass"`
	Mapped []*slotMapping `json:"mappedSources"`
}

// videoConstraint is {maxHeight, maxFrameRate}; -1 unlimited, 0 off.
type videoConstraint struct {
	MaxHeight    *int     `json:"maxHeight,omitempty"`
	MaxFrameRate *float64 `json:"maxFrameRate,omitempty"`
}

// receiverVideoConstraints: only present fields update the stored settings.
type receiverVideoConstraints struct {
	LastN              *int                       `json:"lastN,omitempty"`
	SelectedSources    []string                   `json:"selectedSources,omitempty"`
	OnStageSources     []string                   `json:"onStageSources,omitempty"`
	DefaultConstraints *videoConstraint           `json:"defaultConstraints,omitempty"`
	Constraints        map[string]videoConstraint `json:"constraints,omitempty"`
}

type lastNChanged struct {
	LastN int `json:"lastN"`
}

type sourceVideoType struct {
	SourceName string `json:"sourceName"`
	VideoType  string `json:"videoType"`
}

// ReceiverSettings is what an endpoint asked for on its bridge channel; its lastN, on-stage and selected
// sources and heights decide which layer of which source each of its video slots carries (allocate.go).
type ReceiverSettings struct {
	LastN            int
	SelectedSources  []string
	OnStageSources   []string
	DefaultMaxHeight int
	Constraints      map[string]int // source name → maxHeight
	// DefaultMaxFrameRate and FrameRates are the maxFrameRate of the default constraints and of each
	// source's: -1 no limit (temporal.go: a slot forwards the temporal layers within it).
	DefaultMaxFrameRate float64
	FrameRates          map[string]float64
	ConstraintsSeen     bool
	SourceVideoTypes    map[string]string
}
