package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/stride-run/stride/engine/store/consul/consultest"
	strideapi "github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/catalog"
)

// `stride dev -consul ADDR` runs the embedded default with the cluster store:
// the example comes up with its state in Consul's KV, the leader lock held,
// and its tasks in Consul DNS; when dev stops (its tasks with it), so do their
// entries, and the state stays for the next run.
func TestDevOnConsul(t *testing.T) {
	agent := consultest.Start(t, consultest.Options{})
	addr := freeAddr(t)
	prefix := "stride-dev-test/"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	dev := newCLI(strings.NewReader(""), &out, &out)
	dev.ctx = ctx
	done := make(chan int, 1)
	first := devFirstPort(t, 3)
	dir := t.TempDir()
	go func() {
		done <- dev.run([]string{"dev", "-no-color", "-listen", addr, "-data-dir", dir, "-first-port", first,
			"-consul", agent.HTTPAddr(), "-consul-prefix", prefix, "-flap-damping", "0", "../../examples/multi-tier"})
	}()
	client := strideapi.NewClient(addr)
	consultest.WaitFor(t, 120*time.Second, "multi-tier healthy and in DNS", func(ctx context.Context) error {
		select {
		case code := <-done:
			t.Fatalf("stride dev exited %d:\n%s", code, out.String())
		default:
		}
		app, err := client.App(ctx, "/shop/api")
		if err != nil {
			return err
		}
		got, err := consultest.LookupService(ctx, agent, "api-shop")
		if err != nil {
			return err
		}
		if app.TasksHealthy != 2 || len(got) != 2 {
			return fmt.Errorf("/shop/api %d healthy, DNS answers %v", app.TasksHealthy, got)
		}
		return nil
	})
	if !strings.Contains(out.String(), "State: Consul at "+agent.HTTPAddr()) {
		t.Fatalf("dev does not say where its state is:\n%s", out.String())
	}
	kv := agent.Client(t).KV()
	keys, _, err := kv.Keys(prefix+"apps/", "", nil)
	if err != nil || len(keys) != 3 {
		t.Fatalf("apps in Consul: %v %v", keys, err)
	}
	if lock, _, err := kv.Get(prefix+"leader", nil); err != nil || lock == nil || lock.Session == "" {
		t.Fatalf("the leader lock is not held: %+v %v", lock, err)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("stride dev exited %d:\n%s", code, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("stride dev did not stop")
	}
	nodes, _, err := agent.Client(t).Catalog().Nodes(&api.QueryOptions{NodeMeta: map[string]string{catalog.MetaOwner: prefix}})
	if err != nil || len(nodes) != 0 {
		t.Fatalf("catalog entries left after dev stopped: %d nodes (%v)", len(nodes), err)
	}
	if keys, _, err := kv.Keys(prefix+"apps/", "", nil); err != nil || len(keys) != 3 {
		t.Fatalf("the state did not stay: %v %v", keys, err)
	}
}
