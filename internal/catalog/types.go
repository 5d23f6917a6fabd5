package catalog

import "encoding/json"

// Blueprint is Port's blueprint: an entity type with a JSON-Schema-like
// property schema and typed relations.
type Blueprint struct {
	Identifier            string                         `json:"identifier"`
	Title                 string                         `json:"title,omitempty"`
	Icon                  string                         `json:"icon,omitempty"`
	Description           string                         `json:"description,omitempty"`
	Schema                BlueprintSchema                `json:"schema"`
	Relations             map[string]Relation            `json:"relations,omitempty"`
	MirrorProperties      map[string]MirrorProperty      `json:"mirrorProperties,omitempty"`
	CalculationProperties map[string]CalculationProperty `json:"calculationProperties,omitempty"`
	AggregationProperties map[string]AggregationProperty `json:"aggregationProperties,omitempty"`
	TeamInheritance       *TeamInheritance               `json:"teamInheritance,omitempty"`
	ChangelogDestination  json.RawMessage                `json:"changelogDestination,omitempty"`
	Ownership             json.RawMessage                `json:"ownership,omitempty"`
}

// BlueprintSchema is the blueprint's property schema.
type BlueprintSchema struct {
	Properties map[string]Property `json:"properties"`
	Required   []string            `json:"required,omitempty"`
}

// Property is one property of a blueprint schema, or one user input of an
// action (Port uses the same shape for both).
type Property struct {
	Type               string            `json:"type"`
	Title              string            `json:"title,omitempty"`
	Description        string            `json:"description,omitempty"`
	Icon               string            `json:"icon,omitempty"`
	Format             string            `json:"format,omitempty"`
	Blueprint          string            `json:"blueprint,omitempty"`
	Enum               []any             `json:"enum,omitempty"`
	EnumColors         map[string]string `json:"enumColors,omitempty"`
	Default            any               `json:"default,omitempty"`
	MinLength          *int              `json:"minLength,omitempty"`
	MaxLength          *int              `json:"maxLength,omitempty"`
	Pattern            string            `json:"pattern,omitempty"`
	Minimum            *json.Number      `json:"minimum,omitempty"`
	Maximum            *json.Number      `json:"maximum,omitempty"`
	ExclusiveMinimum   *json.Number      `json:"exclusiveMinimum,omitempty"`
	ExclusiveMaximum   *json.Number      `json:"exclusiveMaximum,omitempty"`
	Items              *Property         `json:"items,omitempty"`
	MinItems           *int              `json:"minItems,omitempty"`
	MaxItems           *int              `json:"maxItems,omitempty"`
	UniqueItems        bool              `json:"uniqueItems,omitempty"`
	Spec               string            `json:"spec,omitempty"`
	SpecAuthentication json.RawMessage   `json:"specAuthentication,omitempty"`
	Runtime            bool              `json:"runtime,omitempty"`
	Calculation        *Formula          `json:"calculation,omitempty"`
	// Action inputs only.
	Dataset  json.RawMessage `json:"dataset,omitempty"`
	Visible  json.RawMessage `json:"visible,omitempty"`
	Disabled bool            `json:"disabled,omitempty"`
}

// Formula is the seed's inline calculation on a property.
type Formula struct {
	Type    string `json:"type"`
	Formula string `json:"formula"`
}

// Relation is a typed link from entities of one blueprint to entities of
// another.
type Relation struct {
	Target      string `json:"target"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required"`
	Many        bool   `json:"many"`
}

type MirrorProperty struct {
	Title string `json:"title,omitempty"`
	Path  string `json:"path"`
}

type CalculationProperty struct {
	Title       string            `json:"title,omitempty"`
	Description string            `json:"description,omitempty"`
	Icon        string            `json:"icon,omitempty"`
	Calculation string            `json:"calculation"`
	Type        string            `json:"type"`
	Format      string            `json:"format,omitempty"`
	Colorized   bool              `json:"colorized,omitempty"`
	Colors      map[string]string `json:"colors,omitempty"`
}

type AggregationProperty struct {
	Title           string          `json:"title,omitempty"`
	Description     string          `json:"description,omitempty"`
	Icon            string          `json:"icon,omitempty"`
	Type            string          `json:"type,omitempty"`
	Target          string          `json:"target"`
	CalculationSpec CalculationSpec `json:"calculationSpec"`
	Query           *Query          `json:"query,omitempty"`
	PathFilter      json.RawMessage `json:"pathFilter,omitempty"`
}

type CalculationSpec struct {
	Func          string `json:"func"`
	CalculationBy string `json:"calculationBy,omitempty"`
	Property      string `json:"property,omitempty"`
	AverageOf     string `json:"averageOf,omitempty"`
	MeasureTimeBy string `json:"measureTimeBy,omitempty"`
}

type TeamInheritance struct {
	Path string `json:"path"`
}

// Entity is one catalog entry of a blueprint. Properties and relations keep
// the JSON values as written; numbers are json.Number so that no precision
// is lost between the file, the store and the API.
type Entity struct {
	Blueprint  string         `json:"blueprint"`
	Identifier string         `json:"identifier"`
	Title      string         `json:"title,omitempty"`
	Icon       string         `json:"icon,omitempty"`
	Team       []string       `json:"team,omitempty"`
	Properties map[string]any `json:"properties"`
	Relations  map[string]any `json:"relations"`
}

// Query is Port's search query. Rules holds both `rules` and Port's
// scorecard spelling `conditions`; the loader folds the latter into it.
type Query struct {
	Combinator string `json:"combinator"`
	Rules      []Rule `json:"rules"`
}

// Rule is one element of a query: a property rule, a relation rule, or a
// nested query (Combinator set).
type Rule struct {
	Property   string `json:"property,omitempty"`
	Operator   string `json:"operator,omitempty"`
	Value      any    `json:"value,omitempty"`
	Blueprint  string `json:"blueprint,omitempty"`
	Direction  string `json:"direction,omitempty"`
	Required   *bool  `json:"required,omitempty"`
	Combinator string `json:"combinator,omitempty"`
	Rules      []Rule `json:"rules,omitempty"`
}

// UnmarshalJSON accepts Port's `conditions` as a synonym of `rules`.
func (q *Query) UnmarshalJSON(b []byte) error {
	var raw struct {
		Combinator string `json:"combinator"`
		Rules      []Rule `json:"rules"`
		Conditions []Rule `json:"conditions"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	q.Combinator = raw.Combinator
	q.Rules = append(raw.Rules, raw.Conditions...)
	return nil
}

// UnmarshalJSON accepts `conditions` in nested queries as well.
func (r *Rule) UnmarshalJSON(b []byte) error {
	type plain Rule
	var raw struct {
		plain
		Conditions []Rule `json:"conditions"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*r = Rule(raw.plain)
	r.Rules = append(r.Rules, raw.Conditions...)
	return nil
}

// Action is Port's self-service action with pier's approval rule.
type Action struct {
	Identifier           string            `json:"identifier"`
	Title                string            `json:"title,omitempty"`
	Icon                 string            `json:"icon,omitempty"`
	Description          string            `json:"description,omitempty"`
	Trigger              Trigger           `json:"trigger"`
	InvocationMethod     InvocationMethod  `json:"invocationMethod"`
	RequiredApproval     json.RawMessage   `json:"requiredApproval,omitempty"`
	Approval             *Approval         `json:"approval,omitempty"`
	ApprovalNotification *ApprovalNotifier `json:"approvalNotification,omitempty"`
	Schedule             string            `json:"schedule,omitempty"`
	Publish              *bool             `json:"publish,omitempty"`
}

type Trigger struct {
	Type                string          `json:"type"`
	Operation           string          `json:"operation,omitempty"`
	BlueprintIdentifier string          `json:"blueprintIdentifier,omitempty"`
	UserInputs          *UserInputs     `json:"userInputs,omitempty"`
	Condition           json.RawMessage `json:"condition,omitempty"`
}

type UserInputs struct {
	Properties map[string]Property `json:"properties"`
	Required   json.RawMessage     `json:"required,omitempty"`
	Order      []string            `json:"order,omitempty"`
}

// InvocationMethod is either a GitHub workflow dispatch or a webhook.
type InvocationMethod struct {
	Type string `json:"type"`
	// GITHUB
	Org                  string         `json:"org,omitempty"`
	Repo                 string         `json:"repo,omitempty"`
	Workflow             string         `json:"workflow,omitempty"`
	Ref                  string         `json:"ref,omitempty"`
	WorkflowInputs       map[string]any `json:"workflowInputs,omitempty"`
	ReportWorkflowStatus *bool          `json:"reportWorkflowStatus,omitempty"`
	OmitPayload          bool           `json:"omitPayload,omitempty"`
	OmitUserInputs       bool           `json:"omitUserInputs,omitempty"`
	// WEBHOOK
	URL          string            `json:"url,omitempty"`
	Method       string            `json:"method,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	Body         any               `json:"body,omitempty"`
	Agent        bool              `json:"agent,omitempty"`
	Synchronized bool              `json:"synchronized,omitempty"`
	Secret       string            `json:"secret,omitempty"`
}

// Approval is pier's approval rule, kept in git with its action.
type Approval struct {
	Approvals      int        `json:"approvals"`
	Approvers      *Approvers `json:"approvers,omitempty"`
	AllowRequester bool       `json:"allowRequester"`
	// AllowLastPusher lets whoever pushed a pull request's approved head
	// approve it; off by default, as GitHub's "require approval of the
	// most recent reviewable push".
	AllowLastPusher bool            `json:"allowLastPusher"`
	When            json.RawMessage `json:"when,omitempty"`
	ExpiresIn       string          `json:"expiresIn"`
	RequireReason   bool            `json:"requireReason"`
	System          string          `json:"system"`
	Merge           bool            `json:"merge"`
}

type Approvers struct {
	Users []string `json:"users,omitempty"`
	Teams []string `json:"teams,omitempty"`
}

type ApprovalNotifier struct {
	Type   string `json:"type"`
	URL    string `json:"url,omitempty"`
	Format string `json:"format,omitempty"`
}

// Scorecard is Port's scorecard.
type Scorecard struct {
	Identifier          string          `json:"identifier"`
	Title               string          `json:"title,omitempty"`
	Description         string          `json:"description,omitempty"`
	BlueprintIdentifier string          `json:"blueprintIdentifier,omitempty"`
	Filter              *Query          `json:"filter,omitempty"`
	Levels              []Level         `json:"levels,omitempty"`
	Rules               []ScorecardRule `json:"rules"`
}

type Level struct {
	Title string `json:"title"`
	Color string `json:"color,omitempty"`
}

// DefaultLevels are Port's default scorecard levels, lowest first.
var DefaultLevels = []Level{
	{Title: "Basic", Color: "paleBlue"},
	{Title: "Bronze", Color: "bronze"},
	{Title: "Silver", Color: "silver"},
	{Title: "Gold", Color: "gold"},
}

type ScorecardRule struct {
	Identifier  string `json:"identifier"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Level       string `json:"level"`
	Query       Query  `json:"query"`
}

// Automation reacts to catalog events. Its body is kept as written; the
// automation engine interprets it.
type Automation struct {
	Identifier       string          `json:"identifier"`
	Title            string          `json:"title,omitempty"`
	Icon             string          `json:"icon,omitempty"`
	Description      string          `json:"description,omitempty"`
	Trigger          json.RawMessage `json:"trigger"`
	Conditions       json.RawMessage `json:"conditions,omitempty"`
	InvocationMethod json.RawMessage `json:"invocationMethod,omitempty"`
	Actions          json.RawMessage `json:"actions,omitempty"`
	Publish          *bool           `json:"publish,omitempty"`
}

// Webhook subscribes an HTTP endpoint to catalog events.
type Webhook struct {
	Identifier  string   `json:"identifier"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	URL         string   `json:"url"`
	SecretEnv   string   `json:"secretEnv,omitempty"`
	Events      []string `json:"events,omitempty"`
	Blueprints  []string `json:"blueprints,omitempty"`
	Enabled     *bool    `json:"enabled,omitempty"`
}

// Active reports whether deliveries should be made.
func (w *Webhook) Active() bool { return w.Enabled == nil || *w.Enabled }

// Settings are catalog-wide switches carried by the revision itself.
type Settings struct {
	DeletionGuard DeletionGuard `json:"deletionGuard"`
	Levels        []Level       `json:"levels,omitempty"`
}

// DeletionGuard bounds how much of the catalog one revision may delete.
type DeletionGuard struct {
	MaxShare *float64 `json:"maxShare,omitempty"`
	Allow    bool     `json:"allow,omitempty"`
}

// Role is a named set of permissions, in the shape of Port's RBAC
// configuration (the seed's "roles" block).
type Role struct {
	Identifier  string       `json:"identifier"`
	Title       string       `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	Permissions []Permission `json:"permissions"`
}

// Permission allows one action (read, write, execute, approve, or * for
// all) on one kind of resource (entity, action, run, blueprint,
// scorecard, or * for all), on the objects its condition selects (a
// query whose values may be {{ user.* }} templates; none: all of them).
type Permission struct {
	Action    string          `json:"action"`
	Resource  string          `json:"resource"`
	Condition json.RawMessage `json:"condition,omitempty"`
}

// RoleBinding says who holds a role: people by GitHub login, the
// members of catalog teams, and everyone signed in.
type RoleBinding struct {
	Role     string   `json:"role"`
	Users    []string `json:"users,omitempty"`
	Teams    []string `json:"teams,omitempty"`
	Everyone bool     `json:"everyone,omitempty"`
}

// Dashboard is Port's dashboard: widgets over datasets, with filters
// every widget is narrowed by. Rule values may be {{ user.* }}
// templates, filled in for the viewer.
type Dashboard struct {
	Identifier  string   `json:"identifier"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Icon        string   `json:"icon,omitempty"`
	Filters     []Rule   `json:"filters,omitempty"`
	Widgets     []Widget `json:"widgets"`
}

// Widget is one chart, number or table of a dashboard.
type Widget struct {
	ID          string   `json:"id"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Icon        string   `json:"icon,omitempty"`
	Type        string   `json:"type"`
	Dataset     Query    `json:"dataset"`
	Property    string   `json:"property,omitempty"`
	Timeframe   string   `json:"timeframe,omitempty"`
	Calculation string   `json:"calculation,omitempty"`
	Columns     []string `json:"columns,omitempty"`
}

// UnmarshalJSON reads Port's export's blueprint as the scorecard's
// blueprintIdentifier when that is not given: an exported scorecard
// pasted as it is scores the blueprint it scored in Port.
func (s *Scorecard) UnmarshalJSON(b []byte) error {
	type plain Scorecard
	var v struct {
		plain
		Blueprint string `json:"blueprint"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Scorecard(v.plain)
	if s.BlueprintIdentifier == "" {
		s.BlueprintIdentifier = v.Blueprint
	}
	return nil
}
