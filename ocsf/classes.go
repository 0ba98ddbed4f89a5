package ocsf

// The classes and activities below are transcribed from the OCSF schema
// 1.8.0 (events/iam/authentication.json, account_change.json,
// user_access.json, events/application/api_activity.json, categories.json
// and the activity_id, severity_id and status_id enums of
// dictionary.json).

// SchemaVersion is the OCSF schema version the events of this package
// follow; it is written to metadata.version.
const SchemaVersion = "1.8.0"

// The event classes the Mapper produces.
const (
	ClassAccountChange  = 3001 // Account Change, category Identity & Access Management
	ClassAuthentication = 3002 // Authentication, category Identity & Access Management
	ClassUserAccess     = 3005 // User Access Management, category Identity & Access Management
	ClassAPIActivity    = 6003 // API Activity, category Application Activity
)

// Activity IDs every class has (base_event.json).
const (
	ActivityUnknown = 0
	ActivityOther   = 99
)

// Activity IDs of Authentication (3002).
const (
	ActivityLogon  = 1
	ActivityLogoff = 2
)

// Activity IDs of Account Change (3001).
const (
	ActivityAccountCreate         = 1
	ActivityAccountPasswordChange = 3
	ActivityAccountDelete         = 6
)

// Activity IDs of User Access Management (3005).
const (
	ActivityAssignPrivileges = 1
	ActivityRevokePrivileges = 2
)

// Activity IDs of API Activity (6003).
const (
	ActivityCreate = 1
	ActivityRead   = 2
	ActivityUpdate = 3
	ActivityDelete = 4
)

// Severity and status IDs (dictionary.json).
const (
	SeverityInformational = 1
	StatusUnknown         = 0
	StatusSuccess         = 1
	StatusFailure         = 2
)

type class struct {
	name         string
	categoryUID  int
	categoryName string
	activities   map[int]string
}

const (
	categoryIAM             = 3
	categoryIAMName         = "Identity & Access Management"
	categoryApplication     = 6
	categoryApplicationName = "Application Activity"
)

// classes returns the four classes by class_uid. A Mapper builds it once;
// a new map per call keeps package state immutable.
func classes() map[int]class {
	withBase := func(m map[int]string) map[int]string {
		m[ActivityUnknown], m[ActivityOther] = "Unknown", "Other"
		return m
	}
	return map[int]class{
		ClassAccountChange: {"Account Change", categoryIAM, categoryIAMName, withBase(map[int]string{
			1: "Create", 2: "Enable", 3: "Password Change", 4: "Password Reset", 5: "Disable",
			6: "Delete", 7: "Attach Policy", 8: "Detach Policy", 9: "Lock",
			10: "MFA Factor Enable", 11: "MFA Factor Disable", 12: "Unlock",
		})},
		ClassAuthentication: {"Authentication", categoryIAM, categoryIAMName, withBase(map[int]string{
			1: "Logon", 2: "Logoff", 3: "Authentication Ticket", 4: "Service Ticket Request",
			5: "Service Ticket Renew", 6: "Preauth", 7: "Account Switch",
		})},
		ClassUserAccess: {"User Access Management", categoryIAM, categoryIAMName, withBase(map[int]string{
			1: "Assign Privileges", 2: "Revoke Privileges",
		})},
		ClassAPIActivity: {"API Activity", categoryApplication, categoryApplicationName, withBase(map[int]string{
			1: "Create", 2: "Read", 3: "Update", 4: "Delete",
		})},
	}
}

// severityName is the caption of a severity_id.
func severityName(id int) string {
	switch id {
	case 0:
		return "Unknown"
	case 1:
		return "Informational"
	case 2:
		return "Low"
	case 3:
		return "Medium"
	case 4:
		return "High"
	case 5:
		return "Critical"
	case 6:
		return "Fatal"
	case 99:
		return "Other"
	}
	return ""
}
