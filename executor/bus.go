package executor

import (
	"encoding/json"
	"sync"
	"time"
)

// Event types the executor publishes: Marathon's eventType names, and Stride's own
// (Marathon clients drop types they do not know).
const (
	// EventStatusUpdate: a task changed state (Marathon's status_update_event).
	EventStatusUpdate = "status_update_event"
	// EventHealthStatusChanged: a task became healthy or unhealthy.
	EventHealthStatusChanged = "health_status_changed_event"
	// EventFailedHealthCheck: one health check of a task failed.
	EventFailedHealthCheck = "failed_health_check_event"
	// EventUnhealthyInstanceKill: a task is killed for failing its health checks.
	EventUnhealthyInstanceKill = "unhealthy_instance_kill_event"
	// EventSchedulerRegistered: the framework subscribed to the Mesos master.
	EventSchedulerRegistered = "scheduler_registered_event"
	// EventSchedulerDisconnected: the subscription to the Mesos master ended.
	EventSchedulerDisconnected = "scheduler_disconnected_event"
	// EventDeploymentInfo: a deployment started, or moved to its next step.
	EventDeploymentInfo = "deployment_info"
	// EventDeploymentStepSuccess: a step of a deployment is done.
	EventDeploymentStepSuccess = "deployment_step_success"
	// EventDeploymentSuccess: a deployment finished.
	EventDeploymentSuccess = "deployment_success"
	// EventDeploymentFailed: a deployment failed or was cancelled or superseded.
	EventDeploymentFailed = "deployment_failed"
	// EventGroupChangeSuccess: the desired state changed (an apply).
	EventGroupChangeSuccess = "group_change_success"
	// EventAppTerminated: an app was destroyed.
	EventAppTerminated = "app_terminated_event"
	// EventInstancesUnplaced is Stride's own: instances of an app could not be
	// placed on the offers, with the reason.
	EventInstancesUnplaced = "instances_unplaced_event"
)

// Event is one Marathon-style event: EventType is Marathon's eventType name, Data
// the payload (which also carries "eventType" and "timestamp" when encoded).
type Event struct {
	ID        uint64
	EventType string
	Timestamp string
	Data      map[string]any
}

// MarshalJSON encodes the event as Marathon's flat payload.
func (ev Event) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(ev.Data)+2)
	for k, v := range ev.Data {
		m[k] = v
	}
	m["eventType"] = ev.EventType
	m["timestamp"] = ev.Timestamp
	return json.Marshal(m)
}

// Bus fans events out to subscribers and keeps a bounded history for replay
// (Last-Event-ID). Slow subscribers lose events rather than slowing the executor.
type Bus struct {
	mu      sync.Mutex
	next    uint64
	subs    map[chan Event]struct{}
	history []Event
	max     int
}

// NewBus returns a bus keeping the last max events.
func NewBus(max int) *Bus {
	return &Bus{subs: map[chan Event]struct{}{}, max: max}
}

// Publish sends an event to every subscriber.
func (b *Bus) Publish(eventType string, now time.Time, data map[string]any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	ev := Event{ID: b.next, EventType: eventType, Timestamp: FormatTime(now), Data: data}
	b.history = append(b.history, ev)
	if len(b.history) > b.max {
		b.history = b.history[len(b.history)-b.max:]
	}
	for ch := range b.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// Subscribe returns a channel of events after lastID (0 = only new ones) and a
// cancel function.
func (b *Bus) Subscribe(lastID uint64) (<-chan Event, func()) {
	ch := make(chan Event, 1024)
	b.mu.Lock()
	if lastID > 0 {
		for _, ev := range b.history {
			if ev.ID > lastID {
				select {
				case ch <- ev:
				default:
				}
			}
		}
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}
}

// FormatTime renders t as Marathon does: ISO-8601 UTC with milliseconds.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
