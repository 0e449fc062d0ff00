package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
)

// status: stride status [options] [APP].
func (c *cli) status(args []string) int {
	fs := c.flagSet("status", "status [options] [APP]\n\nShows the deployed apps with their task counts, running deployments, and why\ninstances wait (unplaceable, backing off); with APP, that app and its tasks.")
	client, app, noColor, ok := c.queryArgs(fs, args)
	if !ok {
		return exitError
	}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	// Stride's own status of the apps (why they wait, gave up, hold kills).
	strideStatus := map[string]api.AppStatus{}
	if sts, err := client.AppsStatus(ctx); err == nil {
		for _, st := range sts {
			strideStatus[st.ID] = st
		}
	}
	if app != "" {
		info, err := client.App(ctx, app)
		if err != nil {
			return c.errorf(noColor, "%v", err)
		}
		c.printApp(info, strideStatus[info.ID])
		return exitOK
	}
	apps, err := client.Apps(ctx)
	if err != nil {
		return c.errorf(noColor, "%v", err)
	}
	// Which server leads (in a cluster, the one asked may be a standby that
	// forwarded the request).
	if leader, err := client.Leader(ctx); err == nil && leader != "" {
		fmt.Fprintf(c.stdout, "Leader: %s\n\n", leader)
	}
	if len(apps) == 0 {
		fmt.Fprintln(c.stdout, "No apps are deployed.")
		return exitOK
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tINSTANCES\tRUNNING\tHEALTHY\tSTAGED\tDEPLOYMENT\tNOTE")
	for _, a := range apps {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%s\t%s\n", a.ID, a.Instances, a.TasksRunning, healthyText(&a), a.TasksStaged, deploymentText(&a), noteText(&a, strideStatus[a.ID]))
	}
	_ = tw.Flush()
	return exitOK
}

// queryArgs parses the options of the read-only commands (status, tasks):
// -address, -no-color and at most one APP (returned canonical, "" for none).
func (c *cli) queryArgs(fs *flag.FlagSet, args []string) (client *api.Client, app string, noColor, ok bool) {
	var sc serverConn
	sc.register(fs)
	fs.BoolVar(&noColor, "no-color", false, "disable coloured output")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, "", noColor, false
	}
	if len(pos) > 1 {
		fs.Usage()
		return nil, "", noColor, false
	}
	if len(pos) == 1 {
		app = engine.CanonicalID(pos[0])
	}
	client, err = c.newClient(sc)
	if err != nil {
		c.errorf(noColor, "%v", err)
		return nil, "", noColor, false
	}
	return client, app, noColor, true
}

func healthyText(a *api.AppInfo) string {
	if len(a.HealthChecks) == 0 {
		return "-"
	}
	return strconv.Itoa(a.TasksHealthy)
}

func deploymentText(a *api.AppInfo) string {
	if len(a.Deployments) == 0 {
		return "-"
	}
	ids := make([]string, len(a.Deployments))
	for i, d := range a.Deployments {
		ids[i] = d.ID
	}
	return strings.Join(ids, ",")
}

// noteText says why an app is not as it should be: it gave up relaunching, its
// health-check kills are held, its instances wait, it backs off.
func noteText(a *api.AppInfo, st api.AppStatus) string {
	if st.ID == "" && a.Extras != nil {
		st = *a.Extras
	}
	var notes []string
	if st.GaveUp != "" {
		notes = append(notes, strings.TrimPrefix(st.GaveUp, a.ID+": "))
	}
	if st.KillSafety != "" {
		notes = append(notes, st.KillSafety)
	}
	waiting, delay := st.Waiting, st.DelaySeconds
	if waiting != "" {
		notes = append(notes, "waiting: "+waiting)
	}
	if delay >= 1 && st.GaveUp == "" {
		notes = append(notes, fmt.Sprintf("backing off %.0fs", delay))
	}
	if f := a.LastTaskFailure; f != nil && len(notes) > 0 && st.GaveUp == "" {
		notes = append(notes, fmt.Sprintf("last failure %s: %s", f.State, f.Message))
	}
	return strings.Join(notes, "; ")
}

func (c *cli) printApp(a *api.AppInfo, st api.AppStatus) {
	fmt.Fprintf(c.stdout, "%s (version %s)\n", a.ID, a.Version)
	fmt.Fprintf(c.stdout, "  instances: %d  running: %d  healthy: %s  staged: %d\n", a.Instances, a.TasksRunning, healthyText(a), a.TasksStaged)
	if d := deploymentText(a); d != "-" {
		fmt.Fprintf(c.stdout, "  deployment: %s\n", d)
	}
	if n := noteText(a, st); n != "" {
		fmt.Fprintf(c.stdout, "  %s\n", n)
	}
	if f := a.LastTaskFailure; f != nil {
		fmt.Fprintf(c.stdout, "  last task failure: %s %s at %s: %s\n", f.TaskID, f.State, f.Timestamp, f.Message)
	}
	if len(a.Tasks) > 0 {
		fmt.Fprintln(c.stdout)
		c.printTasks(a.Tasks)
	}
}

// tasks: stride tasks [options] [APP].
func (c *cli) tasks(args []string) int {
	fs := c.flagSet("tasks", "tasks [options] [APP]\n\nLists the tasks (of APP, or of every app): where they run, their ports, state\nand health.")
	client, app, noColor, ok := c.queryArgs(fs, args)
	if !ok {
		return exitError
	}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	var tasks []engine.Task
	if app != "" {
		info, err := client.App(ctx, app)
		if err != nil {
			return c.errorf(noColor, "%v", err)
		}
		tasks = info.Tasks
	} else {
		var err error
		if tasks, err = client.Tasks(ctx); err != nil {
			return c.errorf(noColor, "%v", err)
		}
	}
	if len(tasks) == 0 {
		fmt.Fprintln(c.stdout, "No tasks.")
		return exitOK
	}
	c.printTasks(tasks)
	return exitOK
}

func (c *cli) printTasks(tasks []engine.Task) {
	sort.Slice(tasks, func(i, j int) bool {
		if tasks[i].AppID != tasks[j].AppID {
			return tasks[i].AppID < tasks[j].AppID
		}
		return tasks[i].ID < tasks[j].ID
	})
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tAPP\tHOST\tPORTS\tSTATE\tHEALTH\tSTARTED")
	for _, t := range tasks {
		ports := make([]string, len(t.Ports))
		for i, p := range t.Ports {
			ports[i] = strconv.Itoa(p)
		}
		started := t.StartedAt
		if started == "" {
			started = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.AppID, t.Host, strings.Join(ports, ","), strings.TrimPrefix(t.State, "TASK_"), healthOf(t), started)
	}
	_ = tw.Flush()
}

func healthOf(t engine.Task) string {
	if len(t.HealthCheckResults) == 0 {
		return "-"
	}
	for _, h := range t.HealthCheckResults {
		if !h.Alive {
			cause := ""
			if h.LastFailureCause != nil {
				cause = ": " + *h.LastFailureCause
			}
			return "unhealthy" + cause
		}
	}
	return "healthy"
}
