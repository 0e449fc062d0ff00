package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
)

// rollback: stride rollback [options] APP [VERSION].
func (c *cli) rollback(args []string) int {
	fs := c.flagSet("rollback", "rollback [options] APP [VERSION]\n\nDeploys a recorded version of APP again (default: the version before the\ncurrent one; `stride status APP` and GET /v2/apps/APP/versions list them), as\nMarathon's PUT /v2/apps/APP {\"version\": ...}, and follows the deployment.")
	var sc serverConn
	var force, detach, noColor bool
	sc.register(fs)
	fs.BoolVar(&force, "force", false, "cancel a running deployment of the app instead of refusing (Marathon's ?force=true)")
	fs.BoolVar(&detach, "detach", false, "start the deployment and return without following it")
	fs.BoolVar(&noColor, "no-color", false, "disable coloured output")
	pos, err := parse(fs, args)
	if err != nil {
		return exitError
	}
	if len(pos) < 1 || len(pos) > 2 {
		fs.Usage()
		return exitError
	}
	id := engine.CanonicalID(pos[0])
	client, err := c.newClient(sc)
	if err != nil {
		return c.errorf(noColor, "%v", err)
	}
	ctx, stop := signal.NotifyContext(c.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	version := ""
	if len(pos) == 2 {
		version = pos[1]
	} else {
		versions, err := client.AppVersions(rctx, id)
		if err != nil {
			return c.errorf(noColor, "%v", err)
		}
		if len(versions) < 2 {
			return c.errorf(noColor, "%s has no version before the current one (%d recorded)", id, len(versions))
		}
		version = versions[1]
	}
	res, err := client.Rollback(rctx, id, version, force)
	if err != nil {
		return c.errorf(noColor, "rollback: %v", err)
	}
	// A rollback to what runs now deploys nothing: its id names no deployment.
	if _, err := client.Deployment(rctx, res.DeploymentID); err != nil {
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status == 404 {
			fmt.Fprintf(c.stdout, "No changes: %s already runs version %s.\n", id, version)
			return exitOK
		}
		return c.errorf(noColor, "%v", err)
	}
	fmt.Fprintf(c.stdout, "Rolling %s back to version %s: deployment %s started (version %s).\n", id, version, res.DeploymentID, res.Version)
	if detach {
		fmt.Fprintf(c.stdout, "Follow it with: stride status %s\n", id)
		return exitOK
	}
	return c.follow(ctx, client, res.DeploymentID, nil, noColor)
}
