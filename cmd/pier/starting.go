package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/internal/api"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/store/postgres"
	"github.com/pierhq/pier/internal/store/storeopen"
)

// openStore opens the store --db names. A database that cannot be
// reached is tried again with backoff for as long as it takes (SIGTERM
// stops the wait), each failure logged with the server it names;
// meanwhile the API's address answers /readyz 503 with the reason.
func (d *daemon) openStore(ctx context.Context) (store.Backend, error) {
	var reason atomic.Value
	reason.Store("opening the state store")
	stop := whileStarting(d.ln, api.Starting(func() string { return reason.Load().(string) }))
	defer stop()
	attempts := 0
	since := time.Now()
	// A replica's transaction may not stay open, idle, for half its
	// lease: one paused in it must not hold up the next leader.
	replica := postgres.AsReplica(d.rep.self, d.cfg.LeaderLease/2)
	return storeopen.Open(ctx, d.cfg.DB, storeopen.Options{Wait: true, Postgres: []postgres.Option{replica}, Waiting: func(err error, next time.Duration) {
		attempts++
		d.log.Warn("the state store cannot be reached; trying again", "err", err, "in", next)
		reason.Store(fmt.Sprintf("waiting for the state store since %s (%d attempts, the next in %s): %v",
			since.UTC().Format(time.RFC3339), attempts, next, err))
	}})
}

// whileStarting serves h on ln until stop is called, and leaves ln open
// for the daemon's own server: the address answers while the daemon
// starts, and is never given up meanwhile.
func whileStarting(ln net.Listener, h http.Handler) (stop func()) {
	dl, ok := ln.(deadliner)
	if !ok {
		return func() {} // a listener that cannot be paused: nothing served meanwhile
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(pausable{ln, dl})
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
		dl.SetDeadline(time.Time{})
	}
}

type deadliner interface{ SetDeadline(time.Time) error }

// pausable is a listener whose Close only wakes Accept (a deadline in the
// past), so that an http.Server stops serving it without closing the
// socket: connections that arrive meanwhile wait for the next server.
type pausable struct {
	net.Listener
	dl deadliner
}

func (p pausable) Close() error { return p.dl.SetDeadline(time.Now()) }
