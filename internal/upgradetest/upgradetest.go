// Package upgradetest reads and writes the event streams that earlier releases recorded
// (projections/testdata/streams), so that upgrade tests can prove today's code still
// folds, projects, rebuilds and verifies what yesterday's code wrote.
package upgradetest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
)

// Recording is the streams one saga wrote, as the store held them when it ended.
type Recording struct {
	// Outcome is the order's final status ("approved", "rejected", "cancelled").
	Outcome string `json:"outcome"`
	// Reason is why it was rejected or cancelled ("" when approved).
	Reason  string   `json:"reason,omitempty"`
	Streams []Stream `json:"streams"`
}

// Stream is one stream's events in version order.
type Stream struct {
	Stream string  `json:"stream"`
	Events []Event `json:"events"`
}

// Event is a recorded event, in a stable JSON shape of its own (RecordedEvent has none).
type Event struct {
	ID         uuid.UUID          `json:"id"`
	Version    int64              `json:"version"`
	Type       string             `json:"type"`
	Data       json.RawMessage    `json:"data"`
	Metadata   ordersaga.Metadata `json:"metadata"`
	RecordedAt time.Time          `json:"recorded_at"`
}

// Add appends a stream's recorded events to the recording.
func (r *Recording) Add(stream ordersaga.Stream, events []ordersaga.RecordedEvent) {
	s := Stream{Stream: stream.String()}
	for _, e := range events {
		s.Events = append(s.Events, Event{ID: e.ID, Version: e.Version, Type: e.Type, Data: e.Data, Metadata: e.Metadata, RecordedAt: e.RecordedAt})
	}
	r.Streams = append(r.Streams, s)
}

// Write stores the recording as indented JSON at path.
func (r Recording) Write(path string) error {
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

// Load reads every recording in dir (its *.json files), by file name.
func Load(dir string) (map[string]Recording, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	out := make(map[string]Recording, len(files))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r Recording
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out[filepath.Base(f)] = r
	}
	return out, nil
}

// EventData returns the stream's events as an append takes them, ids kept.
func (s Stream) EventData() []ordersaga.EventData {
	out := make([]ordersaga.EventData, len(s.Events))
	for i, e := range s.Events {
		out[i] = ordersaga.EventData{ID: e.ID, Type: e.Type, Data: e.Data, Metadata: e.Metadata}
	}
	return out
}
