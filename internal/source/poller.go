package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultSchedule is how often a Poller runs when no schedule is given.
const DefaultSchedule = "@every 5m"

// DefaultJitter is the fraction of the interval a Poller delays each run
// by, at most, when no jitter is given.
const DefaultJitter = 0.1

// PollerOptions configures a Poller.
type PollerOptions struct {
	// Schedule is a cron expression ("*/5 * * * *") or a descriptor
	// ("@every 5m", "@hourly"); DefaultSchedule if empty. "@every"
	// takes any positive Go duration, from the time the Poller starts.
	Schedule string
	// Jitter delays each run by a random time up to this fraction of the
	// interval between runs, so replicas started together do not poll
	// the git server in lock-step. Zero means DefaultJitter, a negative
	// value none; more than 1 is an error.
	Jitter float64
	// Logger receives skipped runs and recovered panics; nil discards.
	Logger *slog.Logger
}

// Poller runs a job on a schedule, typically Git.Fetch followed by a
// reconcile. A run is skipped while the previous one is still going, and
// a panicking run is logged and does not stop later ones.
type Poller struct {
	cron   *cron.Cron
	sched  cron.Schedule
	jitter float64
	job    func(context.Context)

	ctx      context.Context // the jobs'; cancelled when Stop gives up
	cancel   context.CancelFunc
	stopping chan struct{} // closed by Stop: no new run starts
	stopOnce sync.Once
}

// NewPoller returns a Poller that will run job on the schedule once
// started. The job's context is cancelled only when Stop runs out of
// time.
func NewPoller(opts PollerOptions, job func(ctx context.Context)) (*Poller, error) {
	spec := opts.Schedule
	if spec == "" {
		spec = DefaultSchedule
	}
	sched, err := parseSchedule(spec)
	if err != nil {
		return nil, fmt.Errorf("poll schedule %q: %w", spec, err)
	}
	jitter := opts.Jitter
	switch {
	case jitter == 0:
		jitter = DefaultJitter
	case jitter < 0:
		jitter = 0
	case jitter > 1:
		return nil, fmt.Errorf("poll jitter %v: more than the whole interval", opts.Jitter)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cl := cronLogger{log.With("schedule", spec)}
	p := &Poller{
		// SkipIfStillRunning goes outside Recover, not inside as the
		// usual recipe has it: a panic unwinding through
		// SkipIfStillRunning would never release its slot, and every
		// later run would be skipped.
		cron:     cron.New(cron.WithChain(cron.SkipIfStillRunning(cl), cron.Recover(cl)), cron.WithLogger(cl)),
		sched:    sched,
		jitter:   jitter,
		job:      job,
		stopping: make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.cron.Schedule(sched, cron.FuncJob(p.run))
	return p, nil
}

// Start starts the schedule; the first run is one interval away. A
// Poller is started once.
func (p *Poller) Start() { p.cron.Start() }

// Stop stops the schedule and waits for a running job to return. If ctx
// ends first, it cancels the job's context and returns ctx.Err() without
// waiting further. A run still waiting out its jitter does not start.
func (p *Poller) Stop(ctx context.Context) error {
	p.stopOnce.Do(func() { close(p.stopping) })
	done := p.cron.Stop()
	defer p.cancel()
	select {
	case <-done.Done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is one scheduled run: the jitter delay, then the job.
func (p *Poller) run() {
	if d := p.delay(time.Now()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-p.stopping:
			return
		}
	}
	select {
	case <-p.stopping:
		return
	default:
	}
	p.job(p.ctx)
}

// delay picks a random delay up to the jitter fraction of the interval
// between the runs after now.
func (p *Poller) delay(now time.Time) time.Duration {
	if p.jitter == 0 {
		return 0
	}
	next := p.sched.Next(now)
	interval := p.sched.Next(next).Sub(next)
	limit := time.Duration(p.jitter * float64(interval))
	if limit <= 0 {
		return 0
	}
	return rand.N(limit)
}

// parseSchedule reads a schedule. "@every" is parsed here, because cron's
// own rounds the interval up to whole seconds and aligns runs on them,
// which would make "@every 1500ms" run every two seconds.
func parseSchedule(spec string) (cron.Schedule, error) {
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		every, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return nil, err
		}
		if every <= 0 {
			return nil, errors.New("the interval must be positive")
		}
		return everySchedule(every), nil
	}
	return cron.ParseStandard(spec)
}

// everySchedule runs at a fixed interval from whenever it is asked.
type everySchedule time.Duration

func (e everySchedule) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// cronLogger gives cron a slog.Logger.
type cronLogger struct{ log *slog.Logger }

// Info logs a skipped run; cron's other messages (start, wake, run) are
// debug chatter.
func (l cronLogger) Info(msg string, kv ...any) {
	if msg == "skip" {
		l.log.Info("poll skipped: the previous run is still going", kv...)
		return
	}
	l.log.Debug("cron: "+msg, kv...)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error(msg, append(kv, "err", err)...)
}
