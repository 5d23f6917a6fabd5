package review

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pierhq/pier/internal/loader"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store/sqlite"
	"github.com/pierhq/pier/reconciler"
)

const blueprints = `
blueprints: service: {
	title: "Service"
	schema: properties: {
		runbook: {type: "string"}
		health: {type: "string", runtime: true}
	}
}
scorecards: readiness: {
	blueprintIdentifier: "service"
	rules: [
		{identifier: "has_runbook", level: "Silver", query: {combinator: "and", rules: [{property: "runbook", operator: "isNotEmpty"}]}},
		{identifier: "healthy", level: "Gold", query: {combinator: "and", rules: [{property: "health", operator: "=", value: "Healthy"}]}},
	]
}
`

func tree(entities string) fstest.MapFS {
	return fstest.MapFS{"c.cue": {Data: []byte(blueprints + entities)}}
}

// newPlanner applies rev1 and serves it, as the daemon does.
func newPlanner(t *testing.T, rev1 string) (*Planner, *state.Holder) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, _ := loader.New(1)
	rec := reconciler.New(l, st, nil, reconciler.Options{})
	res, err := rec.Reconcile(ctx, reconciler.Revision{ID: "r1", FS: tree(rev1)})
	if err != nil || res.Outcome == reconciler.Failed {
		t.Fatalf("r1: %v %v", err, res.Diagnostics)
	}
	h := state.NewHolder()
	h.Publish(state.FromResult(res))
	return &Planner{Reconciler: rec, State: h, Loader: func() (*loader.Loader, error) { return loader.New(1) }}, h
}

// The plan scores the revision with the runtime values served now: a
// service made Gold by its health reported at runtime falls to Bronze
// when its runbook goes, where the two commits alone say Silver.
func TestPlanScoresAgainstTheLiveState(t *testing.T) {
	p, h := newPlanner(t, `entities: service: api: properties: runbook: "https://rb"`+"\n")
	h.SetRuntime("service", "api", map[string]any{"health": "Healthy"}, time.Now(), "monitor")

	rep, err := p.Plan(context.Background(), reconciler.Revision{ID: "r2", FS: tree(`entities: service: api: {}` + "\n")})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Base != "r1" || rep.Counts.Updated != 1 {
		t.Fatalf("report: %+v", rep)
	}
	if got := fmt.Sprint(rep.Moves); got != "[{service api readiness Gold Bronze [has_runbook] []}]" {
		t.Fatalf("moves %s", got)
	}
	if md := rep.Markdown(); !strings.Contains(md, "`service/api` readiness: Gold → Bronze, because rule has_runbook fails") {
		t.Fatalf("markdown:\n%s", md)
	}
	// Nothing was applied or published.
	if s := h.Load(); s.Revision != "r1" || s.Entity("service", "api").Git.Properties["runbook"] != "https://rb" {
		t.Fatalf("the plan changed the served state: %s", s.Revision)
	}
}

// A head is planned once per served revision, however many ask at once.
func TestPlanOncePerHead(t *testing.T) {
	p, _ := newPlanner(t, `entities: service: api: properties: runbook: "https://rb"`+"\n")
	var made int
	var mu sync.Mutex
	load := p.Loader
	p.Loader = func() (*loader.Loader, error) {
		mu.Lock()
		made++
		mu.Unlock()
		return load()
	}
	rev := reconciler.Revision{ID: "r2", FS: tree(`entities: service: {api: {}, web: {}}` + "\n")}
	var wg sync.WaitGroup
	reps := make([]*Report, 8)
	for i := range reps {
		wg.Go(func() {
			r, err := p.Plan(context.Background(), rev)
			if err != nil {
				t.Error(err)
			}
			reps[i] = r
		})
	}
	wg.Wait()
	for _, r := range reps[1:] {
		if r != reps[0] {
			t.Fatal("the same head was planned more than once")
		}
	}
	if !p.Cached("r2") || made != 1 || reps[0].Counts.Created != 1 {
		t.Fatalf("cached %v, loaders made %d, counts %+v", p.Cached("r2"), made, reps[0].Counts)
	}
}

// The automations a merge would fire are found by their own rule:
// trigger and conditions, on the payload they would receive.
func TestPlanNamesTheAutomationsThatWouldFire(t *testing.T) {
	p, _ := newPlanner(t, `entities: service: api: properties: runbook: "https://rb"`+"\n")
	autos := `
automations: page_on_missing_runbook: {
	trigger: {type: "entity-updated", blueprintIdentifier: "service"}
	conditions: [{property: "runbook", operator: "isEmpty"}]
	invocationMethod: {type: "WEBHOOK", url: "https://hooks.example/page"}
}
automations: welcome: {
	trigger: {type: "entity-created", blueprintIdentifier: "service"}
	invocationMethod: {type: "WEBHOOK", url: "https://hooks.example/welcome"}
}
`
	rep, err := p.Plan(context.Background(), reconciler.Revision{ID: "r2", FS: tree(autos + `entities: service: {api: {}, web: properties: runbook: "https://rb"}` + "\n")})
	if err != nil || !rep.Valid {
		t.Fatalf("%v %v", err, rep.Diagnostics)
	}
	if got := fmt.Sprint(rep.Automations); got != "[{page_on_missing_runbook {ENTITY_UPDATED service api}} {welcome {ENTITY_CREATED service web}}]" {
		t.Fatalf("automations %s", got)
	}
	if md := rep.Markdown(); !strings.Contains(md, "- `page_on_missing_runbook` on ENTITY_UPDATED of `service/api`") {
		t.Fatalf("markdown:\n%s", md)
	}
}
