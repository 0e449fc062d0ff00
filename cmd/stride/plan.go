package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
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
	"github.com/stride-run/stride/planner/feasibility"
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
	// clusterFile is -cluster FILE: a saved /stride/v1/cluster snapshot to
	// check feasibility against instead of the server's.
	clusterFile string
	// strict makes a deadlock found by the feasibility check an error.
	strict bool
}

func (c *cli) registerPlanFlags(fs *flag.FlagSet, pf *planFlags) {
	fs.StringVar(&pf.stateFile, "state", "", "read the deployed state from a file {\"serial\": N, \"apps\": [...]} instead of the server")
	pf.serverConn.register(fs)
	fs.BoolVar(&pf.destroy, "destroy", false, "plan to destroy every deployed app under the scope")
	registerFeasibilityFlags(fs, pf)
}

// registerFeasibilityFlags adds -cluster and -strict (plan and apply).
func registerFeasibilityFlags(fs *flag.FlagSet, pf *planFlags) {
	fs.StringVar(&pf.clusterFile, "cluster", "", "check feasibility against a cluster snapshot saved from GET /stride/v1/cluster instead of the server's")
	fs.BoolVar(&pf.strict, "strict", false, "fail (exit 1) when the feasibility check finds a rollout that would deadlock")
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
	if code := c.strictCheck(p, &pf); code != exitOK {
		return code
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
	if !pf.destroy {
		if err := servicePortConflicts(spec, state, p.Scope); err != nil {
			return nil, nil, c.errorf(pf.noColor, "%v", err)
		}
	}
	if !p.Empty() {
		if err := c.checkFeasibility(ctx, p, pf); err != nil {
			return nil, nil, c.errorf(pf.noColor, "%v", err)
		}
		if ctx.Err() != nil {
			return nil, nil, c.errorf(pf.noColor, "%v", errInterrupted)
		}
	}
	return p, spec, exitOK
}

// feasibilityTimeout bounds the wait for the cluster snapshot: a slow master
// must not hold the plan up for long.
const feasibilityTimeout = 10 * time.Second

// checkFeasibility simulates the plan on the cluster (-cluster FILE, else the
// server's /stride/v1/cluster) and puts the warnings on its changes. The
// server's snapshot never fails the plan: when there is none to check against,
// p.Feasibility says why in its note. A -cluster FILE that cannot be read is
// an error (the user asked for it).
func (c *cli) checkFeasibility(ctx context.Context, p *engine.Plan, pf *planFlags) error {
	if pf.clusterFile != "" {
		snap, err := readClusterFile(pf.clusterFile)
		if err != nil {
			return err
		}
		feasibility.Check(p, snap)
		return nil
	}
	snap, why := c.clusterSnapshot(ctx, pf)
	if snap == nil {
		p.Feasibility = &engine.Feasibility{Note: "not checked (" + why + ")"}
		return nil
	}
	feasibility.Check(p, snap)
	return nil
}

// readClusterFile reads a snapshot saved from GET /stride/v1/cluster?placed=true.
func readClusterFile(name string) (*api.ClusterResponse, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read the cluster snapshot: %w", err)
	}
	var snap api.ClusterResponse
	var shape struct {
		Agents json.RawMessage `json:"agents"`
	}
	if err := json.Unmarshal(data, &shape); err != nil || len(shape.Agents) == 0 || string(shape.Agents) == "null" {
		return nil, fmt.Errorf("%s is not a cluster snapshot from GET /stride/v1/cluster?placed=true (no \"agents\")", name)
	}
	if err := json.Unmarshal(data, &snap); err != nil {
		return nil, fmt.Errorf("%s is not a cluster snapshot from GET /stride/v1/cluster?placed=true: %w", name, err)
	}
	switch {
	case snap.Mesos.Error != "":
		return nil, fmt.Errorf("%s: the server could not read the agents when it was saved: %s", name, snap.Mesos.Error)
	case len(snap.Agents) == 0:
		return nil, fmt.Errorf("%s lists no agents", name)
	}
	return &snap, nil
}

// clusterSnapshot asks the server for the snapshot, or says why there is none.
func (c *cli) clusterSnapshot(ctx context.Context, pf *planFlags) (*api.ClusterResponse, string) {
	if pf.stateFile != "" {
		return nil, "-state FILE: no server to ask; -cluster FILE checks against a saved snapshot"
	}
	client, err := c.newClient(pf.serverConn)
	if err != nil {
		return nil, err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, feasibilityTimeout)
	defer cancel()
	snap, err := client.Cluster(ctx)
	var ae *api.Error
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return nil, "the server has no /stride/v1/cluster"
	case err != nil:
		return nil, "cluster snapshot: " + err.Error()
	case snap.Mesos.Error != "":
		return nil, "the server cannot read the agents: " + snap.Mesos.Error
	case len(snap.Agents) == 0:
		return nil, "the Mesos master reports no agents"
	}
	return snap, ""
}

// strictCheck fails a -strict plan whose feasibility check found a deadlock,
// naming the apps.
func (c *cli) strictCheck(p *engine.Plan, pf *planFlags) int {
	if !pf.strict {
		return exitOK
	}
	if ids := feasibility.Deadlocked(p); len(ids) > 0 {
		return c.errorf(pf.noColor, "-strict: the rollout of %s would deadlock on this cluster (see the warnings above)", strings.Join(ids, ", "))
	}
	return exitOK
}

// servicePortConflicts reports the service ports the files give that another
// app holds (or an app lists twice): the apply would be refused. Ports of 0
// are assigned by the server at apply, from its range, so a plan cannot run
// out of them.
func servicePortConflicts(spec *engine.Spec, state *engine.State, scope string) error {
	declared := make(map[string]bool, len(spec.Apps))
	for _, a := range spec.Apps {
		declared[a.ID] = true
	}
	deployed := make(map[string]*engine.App, len(state.Apps))
	var others []*engine.App
	for _, a := range state.Apps {
		deployed[a.ID] = a
		if !declared[a.ID] && !engine.InScope(a.ID, scope) {
			others = append(others, a)
		}
	}
	err := engine.CheckServicePorts(spec.Apps, others, func(id string) *engine.App { return deployed[id] })
	if es, ok := engine.AsServicePortErrors(err); ok {
		msgs := make([]string, len(es))
		for i, e := range es {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("the apply would be refused:\n  %s", strings.Join(msgs, "\n  "))
	}
	return err
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
