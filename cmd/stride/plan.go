package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/stride-run/stride/cmd/stride/internal/view"
	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/internal/version"
	"github.com/stride-run/stride/planner"
)

// defaultAddress is where the CLI finds the Stride server unless -address or
// STRIDE_ADDR says otherwise.
const defaultAddress = "http://127.0.0.1:8080"

// planFlags are plan's options (apply shares most of them).
type planFlags struct {
	configFlags
	serverConn
	stateFile        string
	jsonOut          bool
	out              string
	detailedExitcode bool
	destroy          bool
}

func (c *cli) registerPlanFlags(fs *flag.FlagSet, pf *planFlags) {
	fs.StringVar(&pf.stateFile, "state", "", "read the deployed state from a file {\"serial\": N, \"apps\": [...]} instead of the server")
	pf.serverConn.register(fs)
	fs.BoolVar(&pf.destroy, "destroy", false, "plan to destroy every deployed app under the scope")
}

// plan: stride plan [options] [DIR|FILE].
func (c *cli) plan(args []string) int {
	var pf planFlags
	fs := c.flagSet("plan", "plan [options] [DIR|FILE]\n\nCompares the configuration with the deployed apps and shows what apply would do,\nin dependency order, with the rolling bounds of every restart and scale.")
	pf.configFlags.register(fs)
	c.registerPlanFlags(fs, &pf)
	fs.BoolVar(&pf.jsonOut, "json", false, "print the plan as JSON (see README: \"Plan JSON\")")
	fs.StringVar(&pf.out, "out", "", "save the plan to a file that apply can carry out")
	fs.BoolVar(&pf.detailedExitcode, "detailed-exitcode", false, "exit 0 when there are no changes, 1 on error, 2 when there are changes")
	pos, err := parse(fs, args)
	if err != nil {
		return exitError
	}
	path, err := oneDir(fs, pos)
	if err != nil {
		return exitError
	}
	ctx, stop := signal.NotifyContext(c.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, spec, code := c.makePlan(ctx, path, &pf)
	if p == nil {
		return code
	}
	if pf.out != "" {
		if err := savePlan(pf.out, spec, p, pf.destroy); err != nil {
			return c.errorf(pf.noColor, "%v", err)
		}
	}
	if pf.jsonOut {
		if err := view.PlanJSON(c.stdout, p); err != nil {
			return c.errorf(pf.noColor, "%v", err)
		}
	} else {
		if err := view.PlanText(c.stdout, p, c.styles(pf.noColor)); err != nil {
			return c.errorf(pf.noColor, "%v", err)
		}
		if pf.out != "" {
			fmt.Fprintf(c.stdout, "\nSaved the plan to: %s\n\nTo carry out exactly these actions, run:\n    stride apply %s\n", pf.out, pf.out)
		}
	}
	if pf.detailedExitcode && !p.Empty() {
		return exitChanges
	}
	return exitOK
}

// errInterrupted: Ctrl-C (or SIGTERM) came while planning.
var errInterrupted = errors.New("interrupted: nothing was planned")

// makePlan loads the configuration and the deployed state and plans. On failure
// it has printed why and returns a nil plan and the exit code. Ctrl-C (ctx done)
// stops it at the next stage, and at once while it waits for the server.
func (c *cli) makePlan(ctx context.Context, path string, pf *planFlags) (*engine.Plan, *engine.Spec, int) {
	cfg, spec := c.loadConfig(path, &pf.configFlags)
	if spec == nil {
		return nil, nil, exitError
	}
	if ctx.Err() != nil {
		return nil, nil, c.errorf(pf.noColor, "%v", errInterrupted)
	}
	state, err := c.readState(ctx, pf)
	if ctx.Err() != nil {
		return nil, nil, c.errorf(pf.noColor, "%v", errInterrupted)
	}
	if err != nil {
		return nil, nil, c.errorf(pf.noColor, "%v", err)
	}
	p, diags := planner.Plan(spec, state, planner.Options{Destroy: pf.destroy})
	c.printDiags(cfg, diags, pf.noColor)
	if diags.HasErrors() {
		return nil, nil, exitError
	}
	return p, spec, exitOK
}

// readState reads the deployed state from -state FILE, or asks the server.
func (c *cli) readState(ctx context.Context, pf *planFlags) (*engine.State, error) {
	if pf.stateFile != "" {
		data, err := os.ReadFile(pf.stateFile)
		if err != nil {
			return nil, fmt.Errorf("read state: %w", err)
		}
		st, err := engine.DecodeState(data)
		if err != nil {
			return nil, fmt.Errorf("read state %s: %w", pf.stateFile, err)
		}
		return st, nil
	}
	client, err := c.newClient(pf.serverConn)
	if err != nil {
		return nil, err
	}
	addr := client.Base
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := client.State(ctx)
	if errors.Is(err, api.ErrUnreachable) {
		return nil, fmt.Errorf("%w\n\nStart one with \"stride dev\", point -address or STRIDE_ADDR at yours, or pass -state FILE", err)
	}
	if err != nil {
		return nil, fmt.Errorf("read the deployed state from %s: %w", addr, err)
	}
	return st, nil
}

func (c *cli) serverAddress(flagValue string) string {
	addr := flagValue
	if addr == "" {
		addr = c.getenv("STRIDE_ADDR")
	}
	if addr == "" {
		addr = defaultAddress
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return strings.TrimRight(addr, "/")
}

// savePlan writes the plan file apply carries out (engine.SavedPlan).
func savePlan(name string, spec *engine.Spec, p *engine.Plan, destroy bool) error {
	sp := engine.SavedPlan{
		FormatVersion: engine.PlanFormatVersion,
		StrideVersion: version.Version,
		StateSerial:   p.StateSerial,
		Spec:          spec,
		Destroy:       destroy,
		Plan:          p,
	}
	data, err := json.Marshal(&sp)
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	// The file holds the configuration's real values (apply deploys them),
	// sensitive ones included: it is readable by its owner only, always.
	if err := writeFileMode(name, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	return nil
}
