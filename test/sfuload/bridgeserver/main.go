// Command bridgeserver runs Parley's videobridge alone in its own process for the load tool
// (test/sfuload), so that its CPU time can be read from /proc/PID/stat like any other SFU's. It serves the
// bridge's message-shaped API as JSON over HTTP on loopback, and the bridge channel:
//
//	POST /allocate  bridge.AllocateRequest → bridge.Allocation
//	POST /answer    bridge.Answer          → 204
//	POST /expire    bridge.ExpireRequest   → 204
//	GET  /colibri-ws/<bridge>/<conference>/<endpoint>?pwd=…  (WebSocket)
//	GET  /metrics   the bridge's Prometheus metrics (the load tool reads parley_bridge_forward_delay_seconds)
//
// It prints "http <addr>" on stdout once it listens and runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-im/parley/internal/bridge"
)

func main() {
	httpAddr := flag.String("http", "127.0.0.1:0", "API and bridge channel address (loopback)")
	media := flag.String("media", "127.0.0.1:0", "media UDP address (loopback)")
	slots := flag.Int("slots", 8, "audio and video send slots per receiver")
	readers := flag.Int("readers", 0, "sockets on the media port, each with a reader ([bridge] media-readers; 0 = one per core)")
	fanOut := flag.Int("fan-out-workers", -1, "goroutines that help forward one packet to many receivers ([bridge] fan-out-workers; 0 = one per core but one, -1 = none)")
	verbose := flag.Bool("v", false, "log at debug level to stderr")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile (go tool pprof) to this file until exit")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bridgeserver:", err)
			os.Exit(1)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	if err := run(*httpAddr, *media, *slots, *readers, *fanOut, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "bridgeserver:", err)
		os.Exit(1)
	}
}

func run(httpAddr, media string, slots, readers, fanOut int, verbose bool) error {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg := bridge.Default()
	cfg.ID = "load"
	cfg.MediaAddr = media
	cfg.IncludeLoopback = true
	cfg.AudioSlots, cfg.VideoSlots = slots, slots
	cfg.MediaReaders = readers
	cfg.FanOutWorkers = fanOut
	reg := prometheus.NewRegistry()
	b, err := bridge.New(cfg, log, reg)
	if err != nil {
		return err
	}
	if err := b.Start(); err != nil {
		return err
	}
	defer b.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /allocate", handle(func(r bridge.AllocateRequest) (any, error) { return b.AllocateEndpoint(r) }))
	mux.HandleFunc("POST /answer", handle(func(a bridge.Answer) (any, error) { return nil, b.SetAnswer(a) }))
	mux.HandleFunc("POST /expire", handle(func(r bridge.ExpireRequest) (any, error) { return nil, b.Expire(r) }))
	mux.Handle("/colibri-ws/", b.ChannelHandler())
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	ln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	fmt.Printf("http %s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handle decodes a JSON request of type T, calls f and encodes its result (204 when nil).
func handle[T any](f func(T) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req T
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, err := f(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		if out == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}
}
