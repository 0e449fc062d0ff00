package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// readRequests are the GET requests of TestGoldenReads; TestReadsNeverWrite
// replays them.
var readRequests = map[string]request{
	"ping":                       {path: "/ping"},
	"info":                       {path: "/v2/info"},
	"leader":                     {path: "/v2/leader"},
	"apps":                       {path: "/v2/apps"},
	"apps-trailing-slash":        {path: "/v2/apps/"},
	"apps-embed-tasks":           {path: "/v2/apps?embed=apps.tasks&embed=apps.lastTaskFailure"},
	"apps-embed-failures":        {path: "/v2/apps?embed=apps.failures&id=registry"},
	"apps-embed-readiness-stats": {path: "/v2/apps?embed=apps.readiness&embed=apps.taskStats&id=/shop/api"},
	"apps-filter-id":             {path: "/v2/apps?id=SHOP"},
	"apps-filter-cmd":            {path: "/v2/apps?cmd=worker"},
	"apps-filter-label":          {path: "/v2/apps?label=team==shop,tier!=backend"},
	"apps-filter-label-in":       {path: "/v2/apps?label=" + "tier%20in%20(backend,%20frontend)"},
	"apps-filter-none":           {path: "/v2/apps?label=nolabel"},
	"app":                        {path: "/v2/apps/shop/api"},
	"app-no-slash-variants":      {path: "/v2/apps//shop//worker/"},
	"app-escaped":                {path: "/v2/apps/%2Fshop%2Fworker"},
	"app-embed-readiness":        {path: "/v2/apps/tools/registry?embed=app.readiness"},
	"group-star":                 {path: "/v2/apps/shop/*"},
	"root-star":                  {path: "/v2/apps/*?id=x"},
	"app-tasks":                  {path: "/v2/apps/shop/api/tasks"},
	"app-tasks-sorted":           {path: "/v2/apps/shop/worker/tasks"},
	"app-tasks-text":             {path: "/v2/apps/shop/api/tasks", header: map[string]string{"Accept": "text/plain"}},
	"app-versions":               {path: "/v2/apps/shop/api/versions"},
	"app-version":                {path: "/v2/apps/shop/worker/versions/" + v1},
	"tasks":                      {path: "/v2/tasks"},
	"tasks-accept-both":          {path: "/v2/tasks?status=staging", header: map[string]string{"Accept": "text/plain, application/json"}},
	"tasks-status-running":       {path: "/v2/tasks?status=running"},
	"tasks-status-array":         {path: "/v2/tasks?status[]=staging&status[]=killing"},
	"tasks-status-unknown":       {path: "/v2/tasks?status=bogus&status=staging"},
	"tasks-text":                 {path: "/v2/tasks", header: map[string]string{"Accept": "text/plain"}},
	"deployments":                {path: "/v2/deployments"},
	"queue":                      {path: "/v2/queue"},
	"queue-embed-offers":         {path: "/v2/queue?embed=lastUnusedOffers"},
	"groups":                     {path: "/v2/groups"},
	"group":                      {path: "/v2/groups/shop"},
	"group-embed-tasks":          {path: "/v2/groups/shop?embed=group.apps.tasks&embed=group.apps.counts"},
	"group-embed-groups-only":    {path: "/v2/groups?embed=group.groups"},
	"group-versions":             {path: "/v2/groups/shop/versions"},
	"group-version":              {path: "/v2/groups/shop/versions/" + v2},
	"stride-info":                {path: "/stride/v1/info"},
	"stride-apps":                {path: "/stride/v1/apps"},
	"stride-app":                 {path: "/stride/v1/apps/shop/worker"},
	"stride-state":               {path: "/stride/v1/state"},
	"stride-deployment-running":  {path: "/stride/v1/deployments/dep-1"},
	"stride-deployment-recent":   {path: "/stride/v1/deployments/dep-0/"},

	"err-app-not-found":        {path: "/v2/apps/nope"},
	"err-app-tasks-not-found":  {path: "/v2/apps/nope/tasks"},
	"err-group-not-found":      {path: "/v2/apps/nope/*"},
	"err-version-not-found":    {path: "/v2/apps/shop/api/versions/" + v1},
	"err-label-selector":       {path: "/v2/apps?label=a%20in%20(b"},
	"err-unknown-path":         {path: "/v2/nothing"},
	"err-deployment-not-found": {path: "/stride/v1/deployments/dep-9"},
	"err-group-not-found-get":  {path: "/v2/groups/nope"},
	"err-group-version":        {path: "/v2/groups/shop/versions/" + v1},
	"err-stride-app-not-found": {path: "/stride/v1/apps/nope"},
}

// TestGoldenReads checks every read endpoint's status, headers and body against
// testdata/read-<name>.golden.
func TestGoldenReads(t *testing.T) {
	for name, req := range readRequests {
		t.Run(name, func(t *testing.T) {
			s, _ := newTestServer()
			checkGolden(t, "read-"+name, render(t, do(t, s, req)))
		})
	}
}

// TestGoldenWrites checks the write endpoints and their errors against
// testdata/write-<name>.golden, and what the backend was asked.
func TestGoldenWrites(t *testing.T) {
	dep := &engine.Deployment{ID: "dep-2", Version: v2, Status: engine.DeploymentRunning}
	plan := &engine.Plan{
		FormatVersion: engine.PlanFormatVersion, StateSerial: 7, Scope: "/",
		Changes: []*engine.Change{{ID: "/shop/worker", Action: engine.ActionScale, Fields: []engine.FieldChange{{Path: "instances", Before: 3.0, After: 4.0}}}},
		Steps:   []engine.Step{{Actions: []engine.StepAction{{ID: "/shop/worker", Action: engine.ActionScale}}}},
		Summary: engine.Summary{Scale: 1},
	}
	const goodSpec = `{"spec":{"scope":"/","apps":[{"id":"/shop/zz","cmd":"sleep 1"},{"id":"/shop/aa","cmd":"sleep 2"}]},"state_serial":7}`
	cases := map[string]struct {
		req       request
		setup     func(*fakeBackend)
		wantCalls []string
	}{
		"apply-created": {
			req:       request{method: "POST", path: "/stride/v1/apply", body: goodSpec},
			setup:     func(f *fakeBackend) { f.applyPlan, f.applyDep = plan, dep },
			wantCalls: []string{"Apply"},
		},
		"apply-nothing": {
			req:       request{method: "POST", path: "/stride/v1/apply", body: goodSpec},
			wantCalls: []string{"Apply"},
		},
		"apply-destroy-without-spec": {
			req:       request{method: "POST", path: "/stride/v1/apply", body: `{"scope":"/shop","destroy":true}`},
			wantCalls: []string{"Apply"},
		},
		"plan": {
			req:       request{method: "POST", path: "/stride/v1/plan", body: goodSpec},
			setup:     func(f *fakeBackend) { f.applyPlan = plan },
			wantCalls: []string{"Plan"},
		},
		"err-apply-stale": {
			req: request{method: "POST", path: "/stride/v1/apply", body: goodSpec},
			setup: func(f *fakeBackend) {
				f.applyErr = fmt.Errorf("%w (planned against serial 7, now 8): run stride plan again", executor.ErrStale)
			},
			wantCalls: []string{"Apply"},
		},
		"err-apply-locked": {
			req:       request{method: "POST", path: "/stride/v1/apply", body: goodSpec},
			setup:     func(f *fakeBackend) { f.applyErr = &executor.LockedError{Deployments: []string{"dep-1", "dep-3"}} },
			wantCalls: []string{"Apply"},
		},
		"err-apply-plan-error": {
			req:       request{method: "POST", path: "/stride/v1/apply", body: goodSpec},
			setup:     func(f *fakeBackend) { f.applyErr = &executor.PlanError{Message: "dependency cycle: /a -> /b -> /a"} },
			wantCalls: []string{"Apply"},
		},
		"err-apply-internal": {
			req:       request{method: "POST", path: "/stride/v1/apply", body: goodSpec},
			setup:     func(f *fakeBackend) { f.applyErr = errors.New("executor: write state: disk full") },
			wantCalls: []string{"Apply"},
		},
		"err-apply-malformed": {
			req: request{method: "POST", path: "/stride/v1/apply", body: "{\"spec\": {\"apps\": [\n  {\"id\": \"/a\",}]}}"},
		},
		"err-apply-empty-body": {
			req: request{method: "POST", path: "/stride/v1/apply"},
		},
		"err-apply-wrong-type": {
			req: request{method: "POST", path: "/stride/v1/apply", body: `{"spec":{"apps":[]},"destroy":"yes"}`},
		},
		"err-apply-app-wrong-types": {
			req: request{method: "POST", path: "/stride/v1/apply", body: `{"spec":{"apps":[{"id":"/ok","cmd":"x"},{"id":"/bad","cpus":"lots","cmdd":"x"}]}}`},
		},
		"err-apply-null-app": {
			req: request{method: "POST", path: "/stride/v1/apply", body: `{"spec":{"apps":[null]}}`},
		},
		"err-apply-invalid-app": {
			req: request{method: "POST", path: "/stride/v1/apply", body: `{"spec":{"apps":[{"id":"/ok","cmd":"x"},{"id":"/Bad_Id","cmd":"x","upgradeStrategy":{"minimumHealthCapacity":2}}]}}`},
		},
		"err-apply-no-spec": {
			req: request{method: "POST", path: "/stride/v1/apply", body: `{"scope":"/shop"}`},
		},
		"err-apply-bad-scope": {
			req: request{method: "POST", path: "/stride/v1/apply", body: `{"scope":"shop","spec":{"apps":[]}}`},
		},
		"err-apply-get": {
			req: request{path: "/stride/v1/apply"},
		},
		"err-state-post": {
			req: request{method: "POST", path: "/stride/v1/state", body: "{}"},
		},
		"err-apps-post": {
			req: request{method: "POST", path: "/v2/apps", body: "{}"},
		},
		"apps-post": {
			req:       request{method: "POST", path: "/v2/apps", body: `{"id": "shop/new", "cmd": "sleep 1", "instances": 2}`},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: put app /shop/new (2 instances)"},
		},
		"apps-post-force": {
			req:       request{method: "POST", path: "/v2/apps?force=true", body: `{"id": "/new", "cmd": "sleep 1"}`},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: put app /new (1 instances) (force)"},
		},
		"app-put-scale": {
			req: request{method: "PUT", path: "/v2/apps/shop/api", body: `{"instances": 5}`},
			setup: func(f *fakeBackend) {
				f.applyDep = &engine.Deployment{ID: "dep-9", Version: "2026-12-04T10:00:00.000Z"}
			},
			wantCalls: []string{"Write: put app /shop/api (5 instances)"},
		},
		"app-put-creates": {
			req:       request{method: "PUT", path: "/v2/apps/shop/fresh", body: `{"cmd": "sleep 1"}`},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: put app /shop/fresh (1 instances)"},
		},
		"app-put-nothing-changed": {
			req:       request{method: "PUT", path: "/v2/apps/shop/api", body: `{"instances": 3}`},
			wantCalls: []string{"Write: put app /shop/api (3 instances)"},
		},
		"app-patch": {
			req:       request{method: "PATCH", path: "/v2/apps/shop/api", body: `{"cmd": "sleep 2", "labels": {"a": "b"}}`},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: put app /shop/api (3 instances)"},
		},
		"app-rollback": {
			req:       request{method: "PUT", path: "/v2/apps/shop/worker", body: `{"version": "` + v1 + `"}`},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: put app /shop/worker (3 instances)"},
		},
		"app-delete": {
			req:       request{method: "DELETE", path: "/v2/apps/shop/worker?force=true"},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: delete app /shop/worker (force)"},
		},
		"app-restart": {
			req: request{method: "POST", path: "/v2/apps/shop/api/restart", body: "{}"},
			setup: func(f *fakeBackend) {
				f.applyDep = &engine.Deployment{ID: "dep-9", Version: "2026-12-04T10:00:00.000Z"}
			},
			wantCalls: []string{"Write: restart /shop/api"},
		},
		"apps-bulk": {
			req:       request{method: "PUT", path: "/v2/apps", body: `[{"id": "/shop/api", "instances": 4}, {"id": "shop/worker", "cmd": "./worker2"}, {"id": "/added", "cmd": "x"}]`},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: put app /added (1 instances); put app /shop/api (4 instances); put app /shop/worker (3 instances)"},
		},
		"err-apps-bulk-invalid": {
			req:       request{method: "PUT", path: "/v2/apps", body: `[{"id": "/shop/api", "instances": 4}, {"id": "/b", "cmd": "x", "cpus": -1}]`},
			wantCalls: []string{"Write: Object is not valid"},
		},
		"err-apps-bulk-types": {
			req: request{method: "PATCH", path: "/v2/apps", body: `[{"id": "/a"}, {"id": "/b", "cpus": "x", "bogus": 1}]`},
		},
		"err-apps-bulk-not-a-list": {
			req: request{method: "PUT", path: "/v2/apps", body: `{"id": "/a"}`},
		},
		"err-app-put-unknown-field": {
			req: request{method: "PUT", path: "/v2/apps/shop/api", body: `{"instancez": 5, "service": {"name": "x"}}`},
		},
		"app-put-unknown-field-lenient": {
			req:       request{method: "PUT", path: "/v2/apps/shop/api?strict=false", body: `{"instancez": 5, "instances": 2}`},
			wantCalls: []string{"Write: put app /shop/api (2 instances)"},
		},
		"err-app-put-wrong-type": {
			req: request{method: "PUT", path: "/v2/apps/shop/api", body: `{"instances": "5"}`},
		},
		"err-app-put-invalid": {
			req:       request{method: "PUT", path: "/v2/apps/shop/api", body: `{"instances": -1}`},
			wantCalls: []string{"Write: Object is not valid"},
		},
		"err-app-put-bad-id": {
			req: request{method: "PUT", path: "/v2/apps/Shop_API", body: `{"cmd": "x"}`},
		},
		"err-app-post-bad-id": {
			req: request{method: "POST", path: "/v2/apps", body: `{"id": "/shop/tasks", "cmd": "x"}`},
		},
		"err-app-post-malformed": {
			req: request{method: "POST", path: "/v2/apps", body: "{\"id\": \"/a\",\n \"cmd\": }"},
		},
		"err-app-post-too-large": {
			req: request{method: "POST", path: "/v2/apps", body: `{"id": "/a", "cmd": "` + strings.Repeat("x", maxAppBody) + `"}`},
		},
		"err-app-post-group-id": {
			req:       request{method: "POST", path: "/v2/apps", body: `{"id": "/shop", "cmd": "x"}`},
			wantCalls: []string{"Write: A group with id [/shop] already exists."},
		},
		"err-app-rollback-unknown-version": {
			req: request{method: "PUT", path: "/v2/apps/shop/api", body: `{"version": "2001-01-01T00:00:00.000Z"}`},
		},
		"err-apps-post-exists": {
			req:       request{method: "POST", path: "/v2/apps", body: `{"id": "/shop/api", "cmd": "x"}`},
			wantCalls: []string{"Write: An app with id [/shop/api] already exists."},
		},
		"err-app-delete-unknown": {
			req:       request{method: "DELETE", path: "/v2/apps/nope"},
			wantCalls: []string{"Write: App '/nope' does not exist"},
		},
		"err-app-put-locked": {
			req:       request{method: "PUT", path: "/v2/apps/shop/api", body: `{"instances": 5}`},
			setup:     func(f *fakeBackend) { f.applyErr = &executor.LockedError{Deployments: []string{"dep-1"}} },
			wantCalls: []string{"Write: put app /shop/api (5 instances)"},
		},
		"queue-delay-reset": {
			req:       request{method: "DELETE", path: "/v2/queue/tools/registry/delay"},
			wantCalls: []string{"ResetDelay /tools/registry"},
		},
		"group-create": {
			req:       request{method: "POST", path: "/v2/groups", body: `{"id": "/product", "dependencies": ["/tools"], "apps": [{"id": "api", "cmd": "x"}], "groups": [{"id": "db", "apps": [{"id": "/product/db/pg", "cmd": "y"}]}]}`},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: put app /product/api (1 instances); put app /product/db/pg (1 instances); put group /product [/tools]; put group /product/db []"},
		},
		"err-group-create-exists": {
			req:       request{method: "POST", path: "/v2/groups", body: `{"id": "/shop"}`},
			wantCalls: []string{"Write: Group /shop is already created. Use PUT to change this group."},
		},
		"err-group-create-not-child": {
			req:       request{method: "POST", path: "/v2/groups", body: `{"id": "/group", "apps": [{"id": "/app", "cmd": "x"}]}`},
			wantCalls: []string{"Write: Object is not valid"},
		},
		"err-group-create-invalid-app": {
			req:       request{method: "POST", path: "/v2/groups/product", body: `{"groups": [{"id": "db", "apps": [{"id": "pg", "cmd": "x", "mem": -5}]}]}`},
			wantCalls: []string{"Write: Object is not valid"},
		},
		"err-group-create-types": {
			req: request{method: "POST", path: "/v2/groups", body: `{"id": "/p", "apps": [{"id": "a", "cpus": "x"}], "bogus": 1}`},
		},
		"group-put-scale": {
			req:       request{method: "PUT", path: "/v2/groups/shop", body: `{"scaleBy": 1.5}`},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: put app /shop/api (5 instances); put app /shop/worker (5 instances)"},
		},
		"group-put-rollback": {
			req:       request{method: "PUT", path: "/v2/groups/shop", body: `{"version": "` + v2 + `"}`},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: put app /shop/api (3 instances); put app /shop/worker (3 instances); put group /shop [/tools]"},
		},
		"err-group-put-rollback-unknown": {
			req: request{method: "PUT", path: "/v2/groups/shop", body: `{"version": "` + v1 + `"}`},
		},
		"group-put-update": {
			req:       request{method: "PUT", path: "/v2/groups/shop", body: `{"apps": [{"id": "api", "cmd": "sleep 3", "instances": 2}]}`},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: put app /shop/api (2 instances); delete app /shop/worker; put group /shop [/tools]"},
		},
		"group-put-dry-run": {
			req: request{method: "PUT", path: "/v2/groups/shop?dryRun=true", body: `{"scaleBy": 2}`},
			setup: func(f *fakeBackend) {
				f.applyPlan = &engine.Plan{Steps: []engine.Step{{Actions: []engine.StepAction{{ID: "/shop/api", Action: engine.ActionScale}, {ID: "/shop/worker", Action: engine.ActionScale}}}}}
			},
			wantCalls: []string{"Plan"},
		},
		"group-delete": {
			req:       request{method: "DELETE", path: "/v2/groups/shop"},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: delete app /shop/api; delete app /shop/worker; delete group /shop"},
		},
		"err-group-delete-unknown": {
			req:       request{method: "DELETE", path: "/v2/groups/nope"},
			wantCalls: []string{"Write: Group '/nope' does not exist"},
		},
		"group-patch": {
			req:       request{method: "PATCH", path: "/v2/groups/shop", body: `{"enforceRole": true}`},
			wantCalls: []string{"Write: put group /shop [/tools]"},
		},
		"err-group-patch-nested": {
			req: request{method: "PATCH", path: "/v2/groups/shop/x", body: `{"enforceRole": true}`},
		},
		"kill-app-task-scale": {
			req:       request{method: "DELETE", path: "/v2/apps/shop/api/tasks/shop_api.0a?scale=true"},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: put app /shop/api (2 instances); kill shop_api.0a"},
		},
		"kill-app-tasks-host-scale": {
			req:       request{method: "DELETE", path: "/v2/apps/shop/worker/tasks?host=agent-1&scale=true"},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: put app /shop/worker (2 instances); kill shop_worker.1b"},
		},
		"kill-tasks-wipe": {
			req:       request{method: "POST", path: "/v2/tasks/delete?wipe=true", body: `{"ids":["shop_api.0b"]}`},
			wantCalls: []string{"KillTasks shop_api.0b"},
		},
		"err-queue-delay": {
			req:       request{method: "DELETE", path: "/v2/queue/shop/api/delay"},
			wantCalls: []string{"ResetDelay /shop/api"},
		},
		"cancel-deployment-force": {
			req:       request{method: "DELETE", path: "/v2/deployments/dep-1?force=true"},
			wantCalls: []string{"Cancel dep-1"},
		},
		"revert-deployment": {
			req: request{method: "DELETE", path: "/v2/deployments/dep-1"},
			setup: func(f *fakeBackend) {
				f.revertDep = &engine.Deployment{ID: "dep-2", Version: "2026-05-05T10:00:00.000Z", RevertOf: "dep-1"}
			},
			wantCalls: []string{"Revert dep-1"},
		},
		"revert-deployment-nothing-to-undo": {
			req:       request{method: "DELETE", path: "/v2/deployments/dep-1"},
			wantCalls: []string{"Revert dep-1"},
		},
		"err-revert-deployment-gone": {
			req:       request{method: "DELETE", path: "/v2/deployments/dep-1"},
			setup:     func(f *fakeBackend) { f.revertErr = executor.ErrNoDeployment },
			wantCalls: []string{"Revert dep-1"},
		},
		"err-revert-deployment-impossible": {
			req: request{method: "DELETE", path: "/v2/deployments/dep-1"},
			setup: func(f *fakeBackend) {
				f.revertErr = fmt.Errorf("%w: app /shop/api is set aside", executor.ErrCannotRevert)
			},
			wantCalls: []string{"Revert dep-1"},
		},
		"err-revert-deployment-unknown": {
			req: request{method: "DELETE", path: "/v2/deployments/dep-9"},
		},
		"err-cancel-deployment-unknown": {
			req: request{method: "DELETE", path: "/v2/deployments/dep-9?force=true"},
		},
		"err-cancel-deployment-gone": {
			req:       request{method: "DELETE", path: "/v2/deployments/dep-1?force=true"},
			setup:     func(f *fakeBackend) { f.cancelErr = executor.ErrNoDeployment },
			wantCalls: []string{"Cancel dep-1"},
		},
		"err-deployments-post": {
			req: request{method: "POST", path: "/v2/deployments"},
		},
		"kill-tasks": {
			req:       request{method: "POST", path: "/v2/tasks/delete", body: `{"ids":["shop_api.0b","shop_worker.1a"]}`},
			wantCalls: []string{"KillTasks shop_api.0b,shop_worker.1a"},
		},
		"err-kill-tasks-unknown": {
			req: request{method: "POST", path: "/v2/tasks/delete", body: `{"ids":["shop_api.0b","shop_api.zz"]}`},
		},
		"kill-tasks-scale": {
			req:       request{method: "POST", path: "/v2/tasks/delete?scale=true", body: `{"ids":["shop_api.0b","shop_api.0c","shop_worker.1a"]}`},
			setup:     func(f *fakeBackend) { f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2} },
			wantCalls: []string{"Write: put app /shop/api (1 instances); put app /shop/worker (2 instances); kill shop_api.0b; kill shop_api.0c; kill shop_worker.1a"},
		},
		"err-kill-tasks-malformed": {
			req: request{method: "POST", path: "/v2/tasks/delete", body: `{"ids":"shop_api.0b"}`},
		},
		"kill-app-tasks-on-host": {
			req:       request{method: "DELETE", path: "/v2/apps/shop/api/tasks?host=agent-2"},
			wantCalls: []string{"KillTasks shop_api.0b"},
		},
		"kill-app-task": {
			req:       request{method: "DELETE", path: "/v2/apps/shop/api/tasks/shop_api.0a"},
			wantCalls: []string{"KillTasks shop_api.0a"},
		},
		"err-kill-app-task-unknown": {
			req: request{method: "DELETE", path: "/v2/apps/shop/api/tasks/shop_worker.1a"},
		},
		"err-kill-app-task-get": {
			req: request{path: "/v2/apps/shop/api/tasks/shop_api.0a"},
		},
		"err-kill-backend-busy": {
			req:       request{method: "DELETE", path: "/v2/apps/shop/api/tasks/shop_api.0a"},
			setup:     func(f *fakeBackend) { f.killErr = fmt.Errorf("kill: %w", context.DeadlineExceeded) },
			wantCalls: []string{"KillTasks shop_api.0a"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, f := newTestServer()
			if tc.setup != nil {
				tc.setup(f)
			}
			w := do(t, s, tc.req)
			if w.Code >= 500 && w.Code != http.StatusServiceUnavailable && !strings.Contains(name, "internal") {
				t.Errorf("status %d for a client error", w.Code)
			}
			checkGolden(t, "write-"+name, render(t, w))
			if got := f.Calls(); !slices.Equal(got, tc.wantCalls) {
				t.Errorf("backend calls = %q, want %q", got, tc.wantCalls)
			}
		})
	}
}

// TestApplyRequestReachesBackend checks what an apply hands the executor: apps
// with defaults, sorted by id, and the serial to check.
func TestApplyRequestReachesBackend(t *testing.T) {
	s, f := newTestServer()
	w := do(t, s, request{method: "POST", path: "/stride/v1/apply", body: `{"spec":{"scope":"/shop","apps":[{"id":"/shop/zz","cmd":"a"},{"id":"/shop/aa","cmd":"b"}]},"scope":"/shop","state_serial":7,"force":true}`})
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	req := f.lastApply
	if req.Scope != "/shop" || !req.Force || req.ExpectSerial == nil || *req.ExpectSerial != 7 || req.Destroy {
		t.Errorf("request = %+v", req)
	}
	var ids []string
	for _, a := range req.Spec.Apps {
		ids = append(ids, a.ID)
		if a.Mem != engine.DefaultMem || a.Instances != engine.DefaultInstances {
			t.Errorf("%s: defaults not applied: mem %v instances %d", a.ID, a.Mem, a.Instances)
		}
	}
	if !slices.Equal(ids, []string{"/shop/aa", "/shop/zz"}) {
		t.Errorf("apps = %v, want sorted by id", ids)
	}
}

// TestApplyOptionsReachBackend: the options of failing safely go through, and
// a deadline out of bounds is refused with its path.
func TestApplyOptionsReachBackend(t *testing.T) {
	cases := map[string]struct {
		body     string
		code     int
		deadline time.Duration
	}{
		"deadline":         {`{"spec":{"apps":[]},"auto_revert":true,"queue":true,"progress_deadline_seconds":90}`, 200, 90 * time.Second},
		"server default":   {`{"spec":{"apps":[]},"auto_revert":true,"queue":true}`, 200, 0},
		"no deadline":      {`{"spec":{"apps":[]},"auto_revert":true,"queue":true,"progress_deadline_seconds":-1}`, 200, -1},
		"deadline too big": {`{"spec":{"apps":[]},"progress_deadline_seconds":604801}`, 422, 0},
		"deadline below":   {`{"spec":{"apps":[]},"progress_deadline_seconds":-2}`, 422, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, f := newTestServer()
			w := do(t, s, request{method: "POST", path: "/stride/v1/apply", body: tc.body})
			if w.Code != tc.code {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if tc.code != 200 {
				if !strings.Contains(w.Body.String(), `"path": "/progress_deadline_seconds"`) && !strings.Contains(w.Body.String(), `"path":"/progress_deadline_seconds"`) {
					t.Errorf("error does not name the field: %s", w.Body)
				}
				if len(f.Calls()) != 0 {
					t.Errorf("backend called: %v", f.Calls())
				}
				return
			}
			if req := f.lastApply; !req.AutoRevert || !req.Queue || req.ProgressDeadline != tc.deadline {
				t.Errorf("request = %+v", req)
			}
		})
	}
}

// TestReadsNeverWrite replays every read request, and the read methods of every
// endpoint, and checks that the backend's write methods were never called.
func TestReadsNeverWrite(t *testing.T) {
	s, f := newTestServer()
	for name, req := range readRequests {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			req.method = m
			if w := do(t, s, req); w.Code >= 500 {
				t.Errorf("%s %s: status %d", m, name, w.Code)
			}
		}
	}
	if calls := f.Calls(); len(calls) > 0 {
		t.Errorf("reads called the backend's write methods: %q", calls)
	}
}

// TestMethodNotAllowed checks 405 answers carry Allow and Marathon's error shape.
func TestMethodNotAllowed(t *testing.T) {
	cases := map[string]struct {
		method, path, allow string
	}{
		"ping":          {"POST", "/ping", "GET"},
		"info":          {"DELETE", "/v2/info", "GET"},
		"leader":        {"DELETE", "/v2/leader", "GET"},
		"apps":          {"DELETE", "/v2/apps", "GET, POST, PUT, PATCH"},
		"groups":        {"POST", "/v2/groups/shop/versions", "GET"},
		"queue-delay":   {"GET", "/v2/queue/shop/worker/delay", "DELETE"},
		"stride-apps":   {"POST", "/stride/v1/apps", "GET"},
		"app":           {"POST", "/v2/apps/shop/api", "GET, PUT, PATCH, DELETE"},
		"app-tasks":     {"POST", "/v2/apps/shop/api/tasks", "GET, DELETE"},
		"app-versions":  {"POST", "/v2/apps/shop/api/versions", "GET"},
		"tasks":         {"POST", "/v2/tasks", "GET"},
		"tasks-delete":  {"GET", "/v2/tasks/delete", "POST"},
		"deployments":   {"PUT", "/v2/deployments", "GET"},
		"deployment":    {"GET", "/v2/deployments/dep-1", "DELETE"},
		"queue":         {"POST", "/v2/queue", "GET"},
		"events":        {"POST", "/v2/events", "GET"},
		"state":         {"PUT", "/stride/v1/state", "GET"},
		"plan":          {"GET", "/stride/v1/plan", "POST"},
		"apply":         {"PUT", "/stride/v1/apply", "POST"},
		"stride-deploy": {"DELETE", "/stride/v1/deployments/dep-1", "GET"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, f := newTestServer()
			w := do(t, s, request{method: tc.method, path: tc.path})
			if w.Code != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405", w.Code)
			}
			if got := w.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			var body errorBody
			decode(t, w, &body)
			if !strings.Contains(body.Message, tc.method) {
				t.Errorf("message %q does not name the method", body.Message)
			}
			if calls := f.Calls(); len(calls) > 0 {
				t.Errorf("backend called: %q", calls)
			}
		})
	}
}

// TestAppRouting checks how ids in URLs are read: canonicalised, and reserved
// suffixes routed to sub-resources unless the whole path is an app.
func TestAppRouting(t *testing.T) {
	v := fixtureView()
	// An app whose id ends like a sub-resource route ("/x/tasks/y") stays an app.
	odd := engine.NewApp("/x/tasks/y")
	odd.Cmd = "sleep 1"
	odd.ApplyDefaults()
	v.Apps = append(v.Apps, &executor.AppStatus{App: odd, Deployments: []string{}, Tasks: []*engine.Task{}})
	s := New(newFake(v), Info{})
	cases := map[string]struct {
		path   string
		status int
		// key is the top-level key of the JSON answer.
		key string
	}{
		"plain":           {"/v2/apps/shop/api", 200, "app"},
		"trailing slash":  {"/v2/apps/shop/api/", 200, "app"},
		"double slashes":  {"/v2/apps//shop//api", 200, "app"},
		"escaped slashes": {"/v2/apps/%2Fshop%2Fapi", 200, "app"},
		"tasks":           {"/v2/apps/shop/api/tasks", 200, "tasks"},
		"tasks slash":     {"/v2/apps/shop/api/tasks/", 200, "tasks"},
		"versions":        {"/v2/apps/shop/api/versions", 200, "versions"},
		"odd app":         {"/v2/apps/x/tasks/y", 200, "app"},
		"group":           {"/v2/apps/shop/*", 200, "*"},
		"root group":      {"/v2/apps/*", 200, "*"},
		"unknown":         {"/v2/apps/shop", 404, "message"},
		"tasks of none":   {"/v2/apps/tasks", 404, "message"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := do(t, s, request{path: tc.path})
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			var m map[string]any
			decode(t, w, &m)
			if _, ok := m[tc.key]; !ok || len(m) != 1 {
				t.Errorf("keys of %s, want only %q", w.Body, tc.key)
			}
		})
	}
}
