package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// Marathon's launch queue (GET /v2/queue, DELETE /v2/queue/{id}/delay, §4.8).

// queueItem is one element of GET /v2/queue (Marathon's QueueApp).
type queueItem struct {
	App                    jsonRaw               `json:"app"`
	Count                  int                   `json:"count"`
	Role                   string                `json:"role"`
	Since                  string                `json:"since"`
	Delay                  queueDelay            `json:"delay"`
	ProcessedOffersSummary processedOffers       `json:"processedOffersSummary"`
	LastUnusedOffers       *[]unusedOfferSummary `json:"lastUnusedOffers,omitempty"`
}

// jsonRaw is an already encoded JSON value.
type jsonRaw []byte

// MarshalJSON returns the value as it is.
func (j jsonRaw) MarshalJSON() ([]byte, error) { return j, nil }

type queueDelay struct {
	TimeLeftSeconds int  `json:"timeLeftSeconds"`
	Overdue         bool `json:"overdue"`
}

type processedOffers struct {
	ProcessedOffersCount       int            `json:"processedOffersCount"`
	UnusedOffersCount          int            `json:"unusedOffersCount"`
	LastUnusedOfferAt          string         `json:"lastUnusedOfferAt,omitempty"`
	LastUsedOfferAt            string         `json:"lastUsedOfferAt,omitempty"`
	RejectSummaryLastOffers    []declinedStep `json:"rejectSummaryLastOffers"`
	RejectSummaryLaunchAttempt []declinedStep `json:"rejectSummaryLaunchAttempt"`
}

// declinedStep is one stage of Marathon's offer-matching funnel: how many
// offers reached it, and how many it declined.
type declinedStep struct {
	Reason    string `json:"reason"`
	Declined  int    `json:"declined"`
	Processed int    `json:"processed"`
}

type unusedOfferSummary struct {
	Offer     offerJSON `json:"offer"`
	Timestamp string    `json:"timestamp"`
	Reason    []string  `json:"reason"`
}

type offerJSON struct {
	ID         string          `json:"id"`
	AgentID    string          `json:"agentId"`
	Hostname   string          `json:"hostname"`
	Resources  []resourceJSON  `json:"resources"`
	Attributes []attributeJSON `json:"attributes"`
}

type resourceJSON struct {
	Name   string      `json:"name"`
	Scalar *float64    `json:"scalar,omitempty"`
	Ranges []rangeJSON `json:"ranges,omitempty"`
	Set    []string    `json:"set,omitempty"`
	Role   string      `json:"role"`
}

type attributeJSON struct {
	Name   string      `json:"name"`
	Scalar *float64    `json:"scalar,omitempty"`
	Ranges []rangeJSON `json:"ranges,omitempty"`
	Set    []string    `json:"set,omitempty"`
	Text   *string     `json:"text,omitempty"`
}

type rangeJSON struct {
	Begin uint64 `json:"begin"`
	End   uint64 `json:"end"`
}

// funnel renders per-reason declines as Marathon's DeclinedOfferStep list:
// every reason in funnel order, each stage processing what the earlier ones
// left.
func funnel(total int, declined map[string]int) []declinedStep {
	out := make([]declinedStep, len(executor.OfferReasons))
	left := total
	for i, r := range executor.OfferReasons {
		out[i] = declinedStep{Reason: r, Declined: declined[r], Processed: left}
		left = max(0, left-declined[r])
	}
	return out
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return executor.FormatTime(t)
}

func resourcesJSON(rs []mesos.Resource) []resourceJSON {
	out := make([]resourceJSON, 0, len(rs))
	for _, r := range rs {
		j := resourceJSON{Name: r.Name, Role: "*"}
		if alloc := r.GetAllocationInfo(); alloc != nil && alloc.GetRole() != "" {
			j.Role = alloc.GetRole()
		}
		if r.Scalar != nil {
			v := r.Scalar.Value
			j.Scalar = &v
		}
		for _, rg := range r.GetRanges().GetRange() {
			j.Ranges = append(j.Ranges, rangeJSON{Begin: rg.Begin, End: rg.End})
		}
		if r.Set != nil {
			j.Set = r.Set.Item
		}
		out = append(out, j)
	}
	return out
}

func attributesJSON(as []mesos.Attribute) []attributeJSON {
	out := make([]attributeJSON, 0, len(as))
	for _, a := range as {
		j := attributeJSON{Name: a.Name}
		if a.Scalar != nil {
			v := a.Scalar.Value
			j.Scalar = &v
		}
		for _, rg := range a.GetRanges().GetRange() {
			j.Ranges = append(j.Ranges, rangeJSON{Begin: rg.Begin, End: rg.End})
		}
		if a.Set != nil {
			j.Set = a.Set.Item
		}
		if a.Text != nil {
			v := a.Text.Value
			j.Text = &v
		}
		out = append(out, j)
	}
	return out
}

// queue is GET /v2/queue: every app short of instances. Count is the number of
// instances the executor wants to launch (or, while the app backs off, the
// number missing); delay is the backoff left; processedOffersSummary counts
// the offers matched against the app during its launch attempt and why they
// went unused; ?embed=lastUnusedOffers adds the last ones.
func (s *Server) queue(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	withOffers := false
	for _, e := range r.URL.Query()["embed"] {
		for _, one := range strings.Split(e, ",") {
			withOffers = withOffers || strings.TrimSpace(one) == "lastUnusedOffers"
		}
	}
	sn := s.snap()
	sn.encodeApps()
	if sn.appErr != nil {
		writeError(w, http.StatusInternalServerError, "encode apps: "+sn.appErr.Error())
		return
	}
	out := []queueItem{}
	for i, st := range sn.view.Apps {
		count := st.Pending
		if missing := st.App.Instances - st.TasksRunning - st.TasksStaged; count == 0 && st.Delay > 0 && missing > 0 {
			count = missing
		}
		if count <= 0 {
			continue
		}
		role := st.App.Role
		if role == "" {
			role = "*"
		}
		item := queueItem{
			App: sn.appJSON[i], Count: count, Role: role,
			Delay: queueDelay{TimeLeftSeconds: int((st.Delay + time.Second - 1) / time.Second), Overdue: st.Delay <= 0},
			ProcessedOffersSummary: processedOffers{
				RejectSummaryLastOffers: funnel(0, nil), RejectSummaryLaunchAttempt: funnel(0, nil),
			},
		}
		if o := st.Offers; o != nil {
			item.Since = formatTime(o.Since)
			item.ProcessedOffersSummary = processedOffers{
				ProcessedOffersCount: o.Processed, UnusedOffersCount: o.Unused,
				LastUnusedOfferAt: formatTime(o.LastUnusedAt), LastUsedOfferAt: formatTime(o.LastUsedAt),
				RejectSummaryLastOffers:    funnel(o.LastOffersTotal, o.LastOffers),
				RejectSummaryLaunchAttempt: funnel(o.Processed, o.Attempt),
			}
		}
		if item.Since == "" {
			item.Since = st.App.Version
		}
		if withOffers {
			offers := []unusedOfferSummary{}
			if o := st.Offers; o != nil {
				for _, u := range o.LastUnused {
					offers = append(offers, unusedOfferSummary{
						Offer: offerJSON{
							ID: u.OfferID, AgentID: u.AgentID, Hostname: u.Hostname,
							Resources: resourcesJSON(u.Resources), Attributes: attributesJSON(u.Attributes),
						},
						Timestamp: formatTime(u.At), Reason: []string{u.Reason},
					})
				}
			}
			item.LastUnusedOffers = &offers
		}
		out = append(out, item)
	}
	writeJSON(w, http.StatusOK, map[string][]queueItem{"queue": out})
}

// queueSub serves DELETE /v2/queue/{appId}/delay: the app's launch backoff
// ends at once (200, no body; 404 when the app is not backing off).
func (s *Server) queueSub(w http.ResponseWriter, r *http.Request, rest string) {
	id := canonicalPath(rest)
	if !strings.HasSuffix(id, "/delay") || id == "/delay" {
		writeError(w, http.StatusNotFound, "Not found: "+r.URL.Path)
		return
	}
	if !allow(w, r, http.MethodDelete) {
		return
	}
	app := engine.ParentID(id)
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	reset, err := s.b.ResetDelay(ctx, app)
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	if !reset {
		writeError(w, http.StatusNotFound, fmt.Sprintf(msgNoDelay, app))
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
