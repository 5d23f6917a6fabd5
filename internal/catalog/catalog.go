package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Kind names a kind of catalog object.
type Kind string

const (
	KindBlueprintObj  Kind = "blueprint"
	KindEntityObj     Kind = "entity"
	KindActionObj     Kind = "action"
	KindScorecardObj  Kind = "scorecard"
	KindAutomationObj Kind = "automation"
	KindWebhookObj    Kind = "webhook"
	// KindApprovalSystemObj is a declared HTTP approval system.
	KindApprovalSystemObj Kind = "approvalSystem"
	// KindRoleObj is a role (the seed's RBAC block), and
	// KindRoleBindingObj who holds one (keyed by the role).
	KindRoleObj        Kind = "role"
	KindRoleBindingObj Kind = "roleBinding"
	// KindDashboardObj is a dashboard of the web portal (the seed's
	// "Custom Dashboard" shape).
	KindDashboardObj Kind = "dashboard"
)

// Key identifies one catalog object. Blueprint is set for entities only.
type Key struct {
	Kind      Kind   `json:"kind"`
	Blueprint string `json:"blueprint,omitempty"`
	ID        string `json:"identifier"`
}

func (k Key) String() string {
	if k.Kind == KindEntityObj {
		return fmt.Sprintf("entity %s/%s", k.Blueprint, k.ID)
	}
	return fmt.Sprintf("%s %s", k.Kind, k.ID)
}

// Less orders keys by kind (blueprints first, as they must be applied
// first), then blueprint, then identifier.
func (k Key) Less(o Key) bool {
	if k.Kind != o.Kind {
		return kindOrder[k.Kind] < kindOrder[o.Kind]
	}
	if k.Blueprint != o.Blueprint {
		return k.Blueprint < o.Blueprint
	}
	return k.ID < o.ID
}

var kindOrder = map[Kind]int{
	KindBlueprintObj: 0, KindEntityObj: 1, KindActionObj: 2, KindScorecardObj: 3, KindAutomationObj: 4, KindWebhookObj: 5,
	KindApprovalSystemObj: 6, KindRoleObj: 7, KindRoleBindingObj: 8, KindDashboardObj: 9,
}

// Object is one catalog object in its canonical JSON form, the unit that
// is diffed, stored and served.
type Object struct {
	Key    Key
	JSON   []byte
	Hash   string // hex SHA-256 of JSON
	Source Pos    // where it was declared; zero for stored objects
	// Fields are where the object's shown fields are declared, in the
	// order written: an entity's properties, a blueprint's schema
	// properties. The web portal links each property to its line and
	// lays a blueprint's columns out in its author's order (the JSON
	// form is sorted). Nil for stored objects until the next load.
	Fields []FieldPos
}

// FieldPos is where one field of an object is declared.
type FieldPos struct {
	Name string
	Pos  Pos
}

// NewObject marshals v canonically and hashes it.
func NewObject(key Key, v any, src Pos) (Object, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Object{}, fmt.Errorf("encode %s: %w", key, err)
	}
	return Object{Key: key, JSON: b, Hash: HashJSON(b), Source: src}, nil
}

// HashJSON is the content hash used for change detection.
func HashJSON(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Catalog is one revision's validated desired state.
type Catalog struct {
	Blueprints  map[string]*Blueprint
	Entities    map[string]map[string]*Entity // blueprint -> identifier -> entity
	Actions     map[string]*Action
	Scorecards  map[string]*Scorecard
	Automations map[string]*Automation
	Webhooks    map[string]*Webhook
	// ApprovalSystems are the declared HTTP approval systems.
	ApprovalSystems map[string]*ApprovalSystem
	// Roles and RoleBindings are who may do what (RBAC); RoleBindings
	// are keyed by the role they bind.
	Roles        map[string]*Role
	RoleBindings map[string]*RoleBinding
	// Dashboards are the web portal's dashboards.
	Dashboards map[string]*Dashboard
	Settings   Settings
}

// New returns an empty catalog ready to fill.
func New() *Catalog {
	return &Catalog{
		Blueprints:      map[string]*Blueprint{},
		Entities:        map[string]map[string]*Entity{},
		Actions:         map[string]*Action{},
		Scorecards:      map[string]*Scorecard{},
		Automations:     map[string]*Automation{},
		Webhooks:        map[string]*Webhook{},
		ApprovalSystems: map[string]*ApprovalSystem{},
		Roles:           map[string]*Role{},
		RoleBindings:    map[string]*RoleBinding{},
		Dashboards:      map[string]*Dashboard{},
	}
}

// EntityCount is the number of entities over all blueprints.
func (c *Catalog) EntityCount() int {
	n := 0
	for _, es := range c.Entities {
		n += len(es)
	}
	return n
}

// Identifiers returns the entity identifiers a relation value names: one
// for a single relation, several for a many relation, none for null or
// anything malformed (which validation reports).
func Identifiers(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	return AppendIdentifiers(nil, v)
}

// AppendIdentifiers appends the identifiers of a relation value to dst,
// for walks that reuse one buffer. A []string (built in Go rather than
// decoded) counts as a many relation too.
func AppendIdentifiers(dst []string, v any) []string {
	switch v := v.(type) {
	case string:
		dst = append(dst, v)
	case []string:
		dst = append(dst, v...)
	case []any:
		for _, el := range v {
			if s, ok := el.(string); ok {
				dst = append(dst, s)
			}
		}
	}
	return dst
}

// Decode parses one JSON document into v, keeping numbers as json.Number
// so that no precision is lost between a file, the store and the API.
func Decode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
