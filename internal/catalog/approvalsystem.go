package catalog

// ApprovalSystem declares an external approval system that an action's
// approval rule selects with `system: "http:IDENTIFIER"`. It follows
// LaunchDarkly's approvals capability: each step of an approval's life is
// one templated HTTP request, and parsers read the answers by JSON
// pointer, so that a new system (ServiceNow, Jira, an in-house tool) is
// catalog data and not code.
type ApprovalSystem struct {
	Identifier  string `json:"identifier"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Schedule is the cron schedule on which pending approvals' status is polled ("@every 1m" by default).
	Schedule          string           `json:"schedule,omitempty"`
	CreationRequest   ApprovalRequest  `json:"creationRequest"`
	StatusRequest     ApprovalRequest  `json:"statusRequest"`
	PostApplyRequest  *ApprovalRequest `json:"postApplyRequest,omitempty"`
	DeletionRequest   *ApprovalRequest `json:"deletionRequest,omitempty"`
	MemberListRequest *ApprovalRequest `json:"memberListRequest,omitempty"`
}

// DefaultApprovalSchedule is how often pending approvals are polled when
// a system sets no schedule.
const DefaultApprovalSchedule = "@every 1m"

// ApprovalRequest is one request of an approval system: where to send
// it, what to send, and how to read the answer.
type ApprovalRequest struct {
	Endpoint Endpoint        `json:"endpoint"`
	JSONBody any             `json:"jsonBody,omitempty"` // a JSON value whose strings may be {{ jq }} templates, or a string template that must render to JSON text
	Parser   *ApprovalParser `json:"parser,omitempty"`
}

// Endpoint is a templated URL, a method and templated header values.
type Endpoint struct {
	URL     string   `json:"url"`
	Method  string   `json:"method"`
	Headers []Header `json:"headers,omitempty"`
}

// Header is one request header; Value may be a template.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ApprovalParser reads a response by JSON pointers (RFC 6901).
type ApprovalParser struct {
	// ApprovalID (creation only) points at the external id of the approval request; later requests see it as .approval.id
	ApprovalID       string       `json:"approvalId,omitempty"`
	StatusValue      string       `json:"statusValue,omitempty"`
	StatusDisplay    string       `json:"statusDisplay,omitempty"`
	ApprovalMatcher  string       `json:"approvalMatcher,omitempty"`
	RejectionMatcher string       `json:"rejectionMatcher,omitempty"`
	URLTemplate      string       `json:"urlTemplate,omitempty"`
	MemberArrayPath  string       `json:"memberArrayPath,omitempty"`
	MemberItems      *MemberItems `json:"memberItems,omitempty"`
}

// MemberItems points, relative to one member of the list, at the
// member's email and external id.
type MemberItems struct {
	Email    string `json:"email"`
	MemberID string `json:"memberId"`
}
