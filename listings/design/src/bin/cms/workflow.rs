//! The page's workflow: draft -> review -> published -> archived, and
//! the few ways back.

use crate::policy::Action;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Draft,
    Review,
    Published,
    Archived,
}

pub const STATES: [State; 4] = [
    State::Draft,
    State::Review,
    State::Published,
    State::Archived,
];

// ANCHOR: transitions
/// The legal moves, and the permission each needs (`None`: the edit
/// permission on the page, own or any).
pub fn transition(from: State, to: State) -> Option<Option<Action>> {
    use State::*;
    match (from, to) {
        (Draft, Review) => Some(None), // submit
        (Review, Draft) => Some(Some(Action::Publish)), // send back
        (Review, Published) => Some(Some(Action::Publish)),
        (Published, Published) => Some(Some(Action::Publish)), // republish
        (Published, Archived) => Some(Some(Action::Publish)),
        (Archived, Draft) => Some(Some(Action::Publish)), // restore
        _ => None,
    }
}

/// The states a page in `from` may move to, for the error message.
pub fn next_states(from: State) -> Vec<&'static str> {
    STATES
        .into_iter()
        .filter(|&to| transition(from, to).is_some())
        .map(State::name)
        .collect()
}
// ANCHOR_END: transitions

impl State {
    pub fn parse(s: &str) -> Option<State> {
        STATES.into_iter().find(|st| st.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Review => "review",
            State::Published => "published",
            State::Archived => "archived",
        }
    }
}
