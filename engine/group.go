package engine

// MaxGroupVersions is how many versions of one group a store keeps (Marathon's
// /v2/groups/{id}/versions).
const MaxGroupVersions = 50

// GroupVersion is one recorded version of a group: the group as it was declared
// then, and what changed at or under it at that version (every change of a
// deployment gets one version, so a group gets a record per deployment that
// touched anything under it).
//
// A record holds changes, not contents: a group with a thousand apps is not
// rewritten whenever one of them changes (Marathon's root group outgrew
// ZooKeeper's node size that way). The group as it was at version v is rebuilt
// from its current contents by undoing the changes of every newer record — which
// the store keeps, since it keeps the newest MaxGroupVersions of each group and
// nothing under a group changes without the group getting a record. The app and
// group versions the rebuilt tree names are in their own histories (apps: the
// Store's AppVersion; groups: the Group of their GroupVersion).
type GroupVersion struct {
	// Group is the declaration; Group.Version is the version of this record.
	Group *Group `json:"group"`
	// Apps lists the apps at or under the group whose version changed, sorted by
	// id.
	Apps []VersionChange `json:"apps,omitempty"`
	// Groups lists the groups at or under the group (the group itself included)
	// whose version changed, sorted by id.
	Groups []VersionChange `json:"groups,omitempty"`
}

// VersionChange is the version of one app or group before and after a change;
// "" means absent (created: Before is ""; removed: After is "").
type VersionChange struct {
	ID     string `json:"id"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}
