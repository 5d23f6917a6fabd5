package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"
)

// replicasBench measures three pier serve on the PostgreSQL store db
// (left with the catalog by the single-replica measure):
//
//   - replica lag: a runtime write answered by one replica until another
//     serves it (LISTEN/NOTIFY, then the follower's catch-up);
//   - search throughput on one replica and spread over three, side by
//     side (on two cores three replicas share the same CPUs);
//   - failover: the leader killed with SIGKILL, until a survivor leads,
//     kills times, the killed replica started again each time.
func (b *daemonRun) replicasBench(db string, writes, kills int, loadFor time.Duration, conc int) error {
	fmt.Printf("\npostgres, three replicas (leader lease 6s, the default):\n")
	var rs [3]*server
	for i := range rs {
		var err error
		if rs[i], err = b.startReplica(i, db); err != nil {
			return err
		}
		defer func(i int) { rs[i].stop() }(i)
	}

	// Replica lag.
	tok, err := accessToken(rs[0].base)
	if err != nil {
		return err
	}
	var lag []time.Duration
	for i := range writes {
		from, to := rs[i%3], rs[(i+1)%3]
		id := fmt.Sprintf("svc-%06d", (i*7907)%b.n)
		value := fmt.Sprintf("lag %d", i)
		req, _ := http.NewRequest("PATCH", from.base+"/v1/blueprints/service/entities/"+id,
			strings.NewReader(fmt.Sprintf(`{"properties":{"health":%q}}`, value)))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("PATCH on a replica: %s: %s", resp.Status, body)
		}
		t0 := time.Now()
		for {
			var got struct {
				Entity struct{ Properties map[string]any }
			}
			if r, err := http.Get(to.base + "/v1/blueprints/service/entities/" + id); err == nil {
				json.NewDecoder(r.Body).Decode(&got)
				r.Body.Close()
			}
			if got.Entity.Properties["health"] == value {
				break
			}
			if time.Since(t0) > 10*time.Second {
				return fmt.Errorf("a runtime write on one replica not served by another within 10s")
			}
			time.Sleep(500 * time.Microsecond)
		}
		lag = append(lag, time.Since(t0))
	}
	slices.Sort(lag)
	fmt.Printf("  replica lag, a runtime write answered by one replica until another serves it (n=%d): median %s, p99 %s, max %s (target: p99 < 1s)\n",
		len(lag), median(lag), pct(lag, 0.99), lag[len(lag)-1].Round(100*time.Microsecond))

	// Search on one replica and on three.
	const indexed = `{"combinator":"and","rules":[{"property":"$blueprint","operator":"=","value":"service"},{"property":"team","operator":"=","value":"team-042"},{"property":"has_readme","operator":"=","value":true}]}`
	one, err := load([]string{rs[0].base}, "on one replica", indexed, loadFor, conc)
	if err != nil {
		return err
	}
	three, err := load([]string{rs[0].base, rs[1].base, rs[2].base}, "spread over three replicas", indexed, loadFor, conc)
	if err != nil {
		return err
	}
	fmt.Printf("  search, a team's documented services: %.0f req/s on one replica, %.0f on three (%.2fx; the three share two cores)\n",
		one.rps, three.rps, three.rps/one.rps)

	// Failover.
	var failover []time.Duration
	for k := range kills {
		leader := -1
		deadline := time.Now().Add(time.Minute)
		for leader < 0 {
			if leader = leading(rs[:]); leader < 0 && time.Now().After(deadline) {
				return fmt.Errorf("no replica leads")
			}
			time.Sleep(10 * time.Millisecond)
		}
		rs[leader].proc.Process.Signal(syscall.SIGKILL)
		rs[leader].proc.Wait()
		t0 := time.Now()
		for {
			if l := leading(rs[:]); l >= 0 && l != leader {
				break
			}
			if time.Since(t0) > time.Minute {
				return fmt.Errorf("kill %d: no survivor leads within a minute", k+1)
			}
			time.Sleep(10 * time.Millisecond)
		}
		failover = append(failover, time.Since(t0))
		if rs[leader], err = b.startReplica(leader, db); err != nil {
			return err
		}
	}
	slices.Sort(failover)
	fmt.Printf("  failover, the leader killed (SIGKILL) until a survivor leads (n=%d): median %s, max %s (target: median < 10s)\n",
		len(failover), median(failover), failover[len(failover)-1].Round(time.Millisecond))
	return nil
}

// startReplica starts replica i on db and waits until it serves.
func (b *daemonRun) startReplica(i int, db string) (*server, error) {
	s, err := b.serve(fmt.Sprintf("replica-%d", i), db)
	if err != nil {
		return nil, err
	}
	if err := waitReady(s.base, 5*time.Minute); err != nil {
		s.stop()
		return nil, fmt.Errorf("replica %d: %w\n%s", i, err, s.logs.String())
	}
	return s, nil
}

// leading is the index of the replica that says it leads, or -1.
func leading(rs []*server) int {
	c := http.Client{Timeout: time.Second}
	for i, s := range rs {
		resp, err := c.Get(s.base + "/readyz")
		if err != nil {
			continue
		}
		var body struct {
			Replica struct{ Leads bool }
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if body.Replica.Leads {
			return i
		}
	}
	return -1
}

// accessToken exchanges the bench's client credentials for a token.
func accessToken(base string) (string, error) {
	body, _ := json.Marshal(map[string]string{"clientId": benchClient, "clientSecret": benchSecret})
	resp, err := http.Post(base+"/v1/auth/access_token", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct{ AccessToken string }
	json.NewDecoder(resp.Body).Decode(&tok)
	if tok.AccessToken == "" {
		return "", fmt.Errorf("no access token (%s)", resp.Status)
	}
	return tok.AccessToken, nil
}
