package executor

import (
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/executor/scheduler"
)

// Offer statistics of waiting apps, as Marathon's /v2/queue reports them
// (processedOffersSummary, lastUnusedOffers): for each app with instances to
// launch, since when it waits, how many offers were matched against it and how
// many went unused, and why, per Marathon's reason names.

// OfferReasons are Marathon's reasons for not using an offer, in the order of
// its matching funnel (an offer is counted under the first it fails).
var OfferReasons = []string{
	scheduler.ReasonUnfulfilledRole,
	scheduler.ReasonUnfulfilledConstraint,
	"NoCorrespondingReservationFound",
	"AgentMaintenance",
	scheduler.ReasonInsufficientCpus,
	scheduler.ReasonInsufficientMemory,
	scheduler.ReasonInsufficientDisk,
	scheduler.ReasonInsufficientGpus,
	scheduler.ReasonInsufficientPorts,
	"DeclinedScarceResources",
}

// maxLastUnused bounds OfferSummary.LastUnused.
const maxLastUnused = 10

// OfferSummary is one waiting app's offer statistics (immutable once in a View).
type OfferSummary struct {
	// Since is when the app started waiting for offers (the launch attempt).
	Since time.Time
	// Processed and Unused count the offers matched against the app during the
	// launch attempt, and those it could not use.
	Processed, Unused int
	// LastUsedAt and LastUnusedAt are when an offer was last used, or not (zero:
	// never).
	LastUsedAt, LastUnusedAt time.Time
	// Attempt counts the offers declined per reason during the launch attempt.
	Attempt map[string]int
	// LastOffers counts, per reason, the agents whose last offer was declined
	// for it; LastOffersTotal is the number of agents that made one.
	LastOffers      map[string]int
	LastOffersTotal int
	// LastUnused are the newest unused offers, oldest first (at most 10).
	LastUnused []UnusedOffer
}

// UnusedOffer is one offer an app could not use, and why.
type UnusedOffer struct {
	OfferID, AgentID, Hostname string
	Resources                  []mesos.Resource
	Attributes                 []mesos.Attribute
	At                         time.Time
	Reason                     string
}

// offerStats is the actor's working copy of an app's OfferSummary.
type offerStats struct {
	since                    time.Time
	processed, unused        int
	lastUsedAt, lastUnusedAt time.Time
	attempt                  map[string]int
	lastByAgent              map[string]string // agent id -> reason ("" = used, or fit)
	lastUnused               []UnusedOffer
}

// statsFor returns the app's statistics, starting a launch attempt at now.
func (e *Executor) statsFor(appID string, now time.Time) *offerStats {
	st := e.offers[appID]
	if st == nil {
		st = &offerStats{since: now, attempt: map[string]int{}, lastByAgent: map[string]string{}}
		e.offers[appID] = st
	}
	return st
}

// noteOffers records how one app's request fared against a round of offers:
// the offers that took an instance were used, the others unused, under the
// reason the scheduler gave their agent.
func (e *Executor) noteOffers(appID string, offers []mesos.Offer, placed []scheduler.Placement, un *scheduler.Unplaced, now time.Time) {
	st := e.statsFor(appID, now)
	used := map[string]bool{}
	for _, p := range placed {
		used[p.OfferID] = true
	}
	for _, o := range offers {
		st.processed++
		agent := o.AgentID.Value
		if used[o.ID.Value] {
			st.lastUsedAt = now
			st.lastByAgent[agent] = ""
			continue
		}
		reason := ""
		if un != nil {
			reason = un.AgentReasons[agent]
		}
		if reason == scheduler.ReasonInvalidConstraint {
			reason = scheduler.ReasonUnfulfilledConstraint // Marathon has no other name for it
		}
		st.unused++
		st.lastUnusedAt = now
		st.lastByAgent[agent] = reason
		if reason == "" {
			continue
		}
		st.attempt[reason]++
		st.lastUnused = append(st.lastUnused, UnusedOffer{
			OfferID: o.ID.Value, AgentID: agent, Hostname: o.Hostname,
			Resources: o.Resources, Attributes: o.Attributes, At: now, Reason: reason,
		})
		if n := len(st.lastUnused); n > maxLastUnused {
			st.lastUnused = append([]UnusedOffer(nil), st.lastUnused[n-maxLastUnused:]...)
		}
	}
}

// endLaunchAttempts forgets the statistics of apps with nothing left to launch.
func (e *Executor) endLaunchAttempts(pending map[string]int, now time.Time) {
	for id := range e.offers {
		if pending[id] == 0 && e.launchDelayFor(id, now) == 0 {
			delete(e.offers, id)
		}
	}
	for id, n := range pending {
		if n > 0 {
			e.statsFor(id, now)
		}
	}
}

// summary copies the statistics for a View.
func (st *offerStats) summary() *OfferSummary {
	s := &OfferSummary{
		Since: st.since, Processed: st.processed, Unused: st.unused,
		LastUsedAt: st.lastUsedAt, LastUnusedAt: st.lastUnusedAt,
		Attempt: make(map[string]int, len(st.attempt)), LastOffers: map[string]int{},
		LastOffersTotal: len(st.lastByAgent),
		LastUnused:      append([]UnusedOffer(nil), st.lastUnused...),
	}
	for r, n := range st.attempt {
		s.Attempt[r] = n
	}
	for _, r := range st.lastByAgent {
		if r != "" {
			s.LastOffers[r]++
		}
	}
	return s
}
