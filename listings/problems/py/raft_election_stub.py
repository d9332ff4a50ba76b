"""Practice stub for 4.10 Raft's election core. Fill in the function and
the class, then run the reference tests against this file:

    PRACTICE_FILE=listings/problems/py/raft_election_stub.py \\
        .venv/py3.11/bin/python -m pytest \\
        listings/problems/py/test_raft_election.py

Follow Figure 2 of the Raft paper: adopt a newer term first (becoming a
follower with no vote cast), then refuse a stale term, a second candidate
in the same term, or a candidate whose log is less up to date. Count each
voter once, and only replies for the current term. Refusal reasons the
tests read: "already voted for n0", "log behind (term 2, index 3)". Bad
input is a ValueError: "a cluster needs at least 1 server, not 0",
"node id 3 is outside a cluster of 3", "log entry 3 has term 2: terms
start at 1 and never decrease", "vote from n7, not in the cluster";
majority(2.5) is TypeError("cluster size must be an int, got 2.5").
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class Role(enum.Enum):
    FOLLOWER = "follower"
    CANDIDATE = "candidate"
    LEADER = "leader"


@dataclass(frozen=True, order=True)
class LogPosition:
    """Where a log ends: the term and index of its last entry."""

    last_term: int
    last_index: int

    @classmethod
    def of(cls, log: Sequence[int]) -> "LogPosition":
        raise NotImplementedError

    def at_least_as_up_to_date_as(self, other: "LogPosition") -> bool:
        raise NotImplementedError

    def __str__(self) -> str:
        return f"(term {self.last_term}, index {self.last_index})"


@dataclass(frozen=True)
class RequestVote:
    term: int
    candidate: int
    last_log: LogPosition


@dataclass(frozen=True)
class VoteReply:
    voter: int
    term: int
    granted: bool
    refusal: str = ""  # why not, when not granted


def majority(cluster_size: int) -> int:
    """Votes needed to win: any two majorities share a server."""
    raise NotImplementedError


class Node:
    """One server's election state: id, cluster_size, log, current_term,
    voted_for (None or a node id), role (a Role) and votes (a set of ids)."""

    def __init__(
        self,
        node_id: int,
        cluster_size: int,
        log: Sequence[int] = (),
        current_term: int = 0,
    ) -> None:
        raise NotImplementedError

    def observe_term(self, term: int) -> bool:
        """A newer term makes us a follower of it, with no vote cast."""
        raise NotImplementedError

    def handle_request_vote(
        self, request: RequestVote, election_restriction: bool = True
    ) -> VoteReply:
        """Figure 2's RequestVote receiver. A granted vote is recorded in
        voted_for (a real server persists it before replying)."""
        raise NotImplementedError

    def start_election(self) -> RequestVote:
        """The election timer fired: new term, vote for ourselves, ask."""
        raise NotImplementedError

    def handle_vote_reply(self, reply: VoteReply) -> bool:
        """Counts one reply; True when it completes a majority."""
        raise NotImplementedError
