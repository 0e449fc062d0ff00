// Command gen writes a generated configuration of -apps apps into DIR/config
// and its deployed state, 10% different, into DIR/state.json, for measuring
// `stride plan -state DIR/state.json DIR/config` (see `make plan-10k`).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stride-run/stride/internal/plangen"
)

func main() {
	apps := flag.Int("apps", 10000, "number of apps (a multiple of 100)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: gen [-apps N] DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *apps); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(dir string, apps int) error {
	cfg := filepath.Join(dir, "config")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	if err := plangen.WriteConfig(cfg, apps); err != nil {
		return err
	}
	return plangen.WriteState(cfg, filepath.Join(dir, "state.json"))
}
