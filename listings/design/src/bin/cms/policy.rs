//! Who may do what: roles, actions, and the ownership check that turns
//! "edit this page" into edit-own or edit-any.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Viewer,
    Author,
    Editor,
    Admin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    ReadDraft,
    EditOwn,
    EditAny,
    Publish,
    Delete,
    ManageUsers,
}

pub const ROLES: [Role; 4] =
    [Role::Viewer, Role::Author, Role::Editor, Role::Admin];
#[cfg(test)]
pub const ACTIONS: [Action; 6] = [
    Action::ReadDraft,
    Action::EditOwn,
    Action::EditAny,
    Action::Publish,
    Action::Delete,
    Action::ManageUsers,
];

// ANCHOR: policy
/// The role-level grants: one table, in one place, on the server.
pub fn grants(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Admin => true,
        Role::Editor => {
            matches!(action, ReadDraft | EditOwn | EditAny | Publish)
        }
        Role::Author => matches!(action, EditOwn),
        Role::Viewer => false,
    }
}

/// The object-level check: editing (or reading the unpublished state of)
/// a page needs edit-own on one's own page and edit-any on anyone else's.
pub fn may_edit(role: Role, owns: bool) -> bool {
    grants(
        role,
        if owns {
            Action::EditOwn
        } else {
            Action::EditAny
        },
    )
}

/// Drafts are readable by whoever may edit them, and by read-draft.
pub fn may_read_draft(role: Role, owns: bool) -> bool {
    may_edit(role, owns) || grants(role, Action::ReadDraft)
}
// ANCHOR_END: policy

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        ROLES.into_iter().find(|r| r.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Author => "author",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::ReadDraft => "read-draft",
            Action::EditOwn => "edit-own",
            Action::EditAny => "edit-any",
            Action::Publish => "publish",
            Action::Delete => "delete",
            Action::ManageUsers => "manage-users",
        })
    }
}
