package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
)

// runTable reads JSON result lines and prints one Markdown table row per
// server (the last route and idle result of each), with the commands that
// produced them, ready for docs/performance.md.
func runTable(args []string) error {
	fs := flag.NewFlagSet("table", flag.ExitOnError)
	noHeader := fs.Bool("noheader", false, "print only the rows")
	fs.Parse(args)
	if fs.NArg() == 0 {
		return fmt.Errorf("table: give one or more result files")
	}

	type row struct {
		route  *routeResult
		idle   *idleResult
		fanout *mucResult
		join   *mucResult
		cmd    string
	}
	var order []string
	rows := map[string]*row{}
	get := func(server string) *row {
		if rows[server] == nil {
			rows[server] = &row{}
			order = append(order, server)
		}
		return rows[server]
	}
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			var probe struct{ Mode string }
			if json.Unmarshal(line, &probe) != nil {
				continue
			}
			switch probe.Mode {
			case "route":
				var r routeResult
				if err := json.Unmarshal(line, &r); err != nil {
					f.Close()
					return fmt.Errorf("%s: %w", name, err)
				}
				rw := get(r.Server)
				rw.route = &r
				if r.ServerCmd != "" {
					rw.cmd = r.ServerCmd
				}
			case "muc-fanout", "muc-join":
				var r mucResult
				if err := json.Unmarshal(line, &r); err != nil {
					f.Close()
					return fmt.Errorf("%s: %w", name, err)
				}
				rw := get(r.Server)
				if r.Mode == "muc-fanout" {
					rw.fanout = &r
				} else {
					rw.join = &r
				}
				if r.ServerCmd != "" {
					rw.cmd = r.ServerCmd
				}
			case "idle":
				var r idleResult
				if err := json.Unmarshal(line, &r); err != nil {
					f.Close()
					return fmt.Errorf("%s: %w", name, err)
				}
				rw := get(r.Server)
				rw.idle = &r
				if r.ServerCmd != "" {
					rw.cmd = r.ServerCmd
				}
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}

	var mucRows []string
	for _, server := range order {
		rw := rows[server]
		if rw.fanout == nil && rw.join == nil {
			continue
		}
		cells := []string{md(server), "–", "–", "–", "–", "–"}
		var load, cmds []string
		if rw.cmd != "" {
			cmds = append(cmds, code(rw.cmd))
		}
		if r := rw.fanout; r != nil {
			cells[1] = fmt.Sprintf("%.0f", r.StanzasPerSec)
			if r.PerServerCPU > 0 {
				cells[2] = fmt.Sprintf("%.0f", r.PerServerCPU)
			}
			cells[3] = fmt.Sprintf("%.2f / %.2f", r.P50Ms, r.P99Ms)
			load = append(load, fmt.Sprintf("fan-out: %d occupants, %d senders, window %d, %.0f s, %d lost, %d errors",
				r.Occupants, r.Senders, r.Window, r.Seconds, r.Lost, r.Errors))
			cmds = append(cmds, code(r.Command))
		}
		if r := rw.join; r != nil {
			cells[4] = fmt.Sprintf("%.1f", r.MedianStormMs)
			cells[5] = fmt.Sprintf("%d", r.PresencesRound)
			if r.ServerCPUPerRnd > 0 {
				cells[5] += fmt.Sprintf(" (server CPU %.0f ms)", r.ServerCPUPerRnd*1000)
			}
			load = append(load, fmt.Sprintf("join storm: %d occupants, %d rounds %v ms", r.Occupants, r.Rounds, r.StormMs))
			cmds = append(cmds, code(r.Command))
		}
		cells = append(cells, strings.Join(load, "; "), strings.Join(cmds, "<br>"))
		mucRows = append(mucRows, "| "+strings.Join(cells, " | ")+" |")
	}
	if len(mucRows) > 0 {
		defer func() {
			fmt.Println()
			if !*noHeader {
				fmt.Println("| Server | MUC fan-out (stanzas delivered/s) | Deliveries per server CPU-second | Latency p50 / p99 (ms) | Join storm (ms, median) | Presence stanzas per storm | Load | Commands |")
				fmt.Println("|---|---:|---:|---:|---:|---:|---|---|")
			}
			for _, l := range mucRows {
				fmt.Println(l)
			}
		}()
	}

	hasC2S := false
	for _, rw := range rows {
		hasC2S = hasC2S || rw.route != nil || rw.idle != nil
	}
	if !*noHeader && hasC2S {
		fmt.Println("| Server | Routing (msg/s) | Msg per server CPU-second | Latency p50 / p99 (ms) | RSS per idle connection | Load | Commands |")
		fmt.Println("|---|---:|---:|---:|---:|---|---|")
	}
	for _, server := range order {
		rw := rows[server]
		if rw.route == nil && rw.idle == nil {
			continue
		}
		cells := []string{md(server), "–", "–", "–", "–"}
		var load, cmds []string
		if rw.cmd != "" {
			cmds = append(cmds, code(rw.cmd))
		}
		if r := rw.route; r != nil {
			cells[1] = fmt.Sprintf("%.0f", r.MsgsPerSec)
			if r.MsgsPerServerCPU > 0 {
				cells[2] = fmt.Sprintf("%.0f", r.MsgsPerServerCPU)
			}
			cells[3] = fmt.Sprintf("%.2f / %.2f", r.P50Ms, r.P99Ms)
			load = append(load, fmt.Sprintf("route: %d pairs, window %d, %.0f s, %d lost", r.Pairs, r.Window, r.Seconds, r.Lost))
			cmds = append(cmds, code(r.Command))
		}
		if r := rw.idle; r != nil {
			if r.BytesPerConn != 0 {
				cells[4] = fmt.Sprintf("%d B (%.1f KiB)", r.BytesPerConn, float64(r.BytesPerConn)/1024)
			}
			load = append(load, fmt.Sprintf("idle: %d connections", r.Connections))
			cmds = append(cmds, code(r.Command))
		}
		cells = append(cells, strings.Join(load, "; "), strings.Join(cmds, "<br>"))
		fmt.Println("| " + strings.Join(cells, " | ") + " |")
	}
	return nil
}

// md escapes a table cell.
func md(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// code renders a command as inline code inside a table cell.
func code(s string) string { return "`" + md(strings.ReplaceAll(s, "`", "'")) + "`" }
