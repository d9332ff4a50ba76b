"""4.10 Raft leader election: the core of it, in Python.

listings/problems/src/bin/raft_election/main.rs simulates whole clusters,
with timers, a lossy network and partitions. This is the part a candidate
writes at the whiteboard: one server's election state and its handlers
(Ongaro and Ousterhout, "In Search of an Understandable Consensus
Algorithm", Figure 2, and sections 5.2 and 5.4.1):

- current_term, voted_for and the log are the state Figure 2 says must
  reach stable storage before a server answers; here they live in memory.
  A log entry is just its term.
- Any message with a newer term makes the receiver a follower of that
  term, with no vote cast in it.
- RequestVote is refused when its term is older than the voter's, when
  the voter already voted for someone else in this term, or when the
  candidate's log is less up to date (the later last term wins; with equal
  last terms, the longer log). A repeat from the candidate already voted
  for is granted again: the first reply may have been lost.
- A candidate votes for itself and becomes leader with votes from a
  majority, cluster_size // 2 + 1, counting each voter once and only
  replies for its current term.
- Bad input is a ValueError: a cluster of no servers, an id outside the
  cluster, a log with a term below 1 or a decreasing term, a vote from a
  server the cluster does not have.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial


class Role(enum.Enum):
    FOLLOWER = "follower"
    CANDIDATE = "candidate"
    LEADER = "leader"


# ANCHOR: up_to_date
@dataclass(frozen=True, order=True)
class LogPosition:
    """Where a log ends: the term and index of its last entry."""

    last_term: int
    last_index: int

    @classmethod
    def of(cls, log: Sequence[int]) -> "LogPosition":
        return cls(log[-1] if log else 0, len(log))

    def at_least_as_up_to_date_as(self, other: "LogPosition") -> bool:
        # Section 5.4.1: the later last term wins; with equal last terms,
        # the longer log. That is tuple order, which order=True provides.
        return self >= other

    def __str__(self) -> str:
        return f"(term {self.last_term}, index {self.last_index})"


# ANCHOR_END: up_to_date


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
    if isinstance(cluster_size, bool) or not isinstance(cluster_size, int):
        raise TypeError(f"cluster size must be an int, got {cluster_size!r}")
    if cluster_size < 1:
        raise ValueError(
            f"a cluster needs at least 1 server, not {cluster_size}"
        )
    return cluster_size // 2 + 1


def _checked_log(log: Sequence[int]) -> list[int]:
    previous = 1
    for index, term in enumerate(log, start=1):
        if term < previous:
            raise ValueError(
                f"log entry {index} has term {term}: terms start at 1 "
                "and never decrease"
            )
        previous = term
    return list(log)


# ANCHOR: node
class Node:
    """One server's election state."""

    def __init__(
        self,
        node_id: int,
        cluster_size: int,
        log: Sequence[int] = (),
        current_term: int = 0,
    ) -> None:
        self.majority = majority(cluster_size)
        if not 0 <= node_id < cluster_size:
            raise ValueError(
                f"node id {node_id} is outside a cluster of {cluster_size}"
            )
        self.id, self.cluster_size = node_id, cluster_size
        self.log = _checked_log(log)
        # Never behind the log: its last entry was written in some term.
        self.current_term = max(current_term, self.log[-1] if self.log else 0)
        self.voted_for: int | None = None
        self.role = Role.FOLLOWER
        self.votes: set[int] = set()

    def observe_term(self, term: int) -> bool:
        """A newer term makes us a follower of it, with no vote cast."""
        if term <= self.current_term:
            return False
        self.current_term, self.voted_for = term, None
        self.role = Role.FOLLOWER
        return True

    # ANCHOR_END: node

    # ANCHOR: request_vote
    def handle_request_vote(
        self, request: RequestVote, election_restriction: bool = True
    ) -> VoteReply:
        """Figure 2's RequestVote receiver. A granted vote is recorded in
        voted_for (a real server persists it before replying)."""
        self.observe_term(request.term)  # first, even if we then refuse

        def refuse(why: str) -> VoteReply:
            return VoteReply(self.id, self.current_term, False, why)

        if request.term < self.current_term:
            return refuse(f"stale term {request.term} < {self.current_term}")
        if self.voted_for not in (None, request.candidate):
            return refuse(f"already voted for n{self.voted_for}")
        own = LogPosition.of(self.log)
        if election_restriction and not (
            request.last_log.at_least_as_up_to_date_as(own)
        ):
            return refuse(f"log behind {own}")
        self.voted_for = request.candidate
        return VoteReply(self.id, self.current_term, True)

    # ANCHOR_END: request_vote

    # ANCHOR: election
    def start_election(self) -> RequestVote:
        """The election timer fired: new term, vote for ourselves, ask."""
        self.current_term += 1
        self.role, self.voted_for = Role.CANDIDATE, self.id
        self.votes = {self.id}
        self._win_if_majority()  # a cluster of one elects itself
        return RequestVote(self.current_term, self.id, LogPosition.of(self.log))

    def handle_vote_reply(self, reply: VoteReply) -> bool:
        """Counts one reply; True when it completes a majority."""
        if not 0 <= reply.voter < self.cluster_size:
            raise ValueError(f"vote from n{reply.voter}, not in the cluster")
        if self.observe_term(reply.term):
            return False  # someone is ahead of us: we stepped down
        # A reply to an older election, a refusal, or a reply after we won
        # or stepped down changes nothing. A set counts a voter once.
        if (
            self.role is not Role.CANDIDATE
            or reply.term != self.current_term
            or not reply.granted
        ):
            return False
        self.votes.add(reply.voter)
        return self._win_if_majority()

    def _win_if_majority(self) -> bool:
        if len(self.votes) < self.majority:
            return False
        self.role = Role.LEADER
        return True

    # ANCHOR_END: election


def run_election(nodes: Sequence[Node], candidate: int) -> None:
    """One candidate asks every other node, in id order, and counts the
    replies as they come back. Prints each step."""
    request = nodes[candidate].start_election()
    print(f"n{candidate} starts an election for term {request.term}")
    for voter in nodes:
        if voter.id == candidate:
            continue
        reply = voter.handle_request_vote(request)
        won = nodes[candidate].handle_vote_reply(reply)
        verdict = "grants" if reply.granted else f"refuses ({reply.refusal})"
        print(
            f"  n{voter.id} {verdict}"
            + (f": n{candidate} leads" if won else "")
        )


def roles(nodes: Sequence[Node]) -> str:
    return ", ".join(f"n{n.id} {n.role.value} t{n.current_term}" for n in nodes)


# ANCHOR: main
def main() -> None:
    # n4 missed entry 2 (term 2), which the other four hold.
    logs = [[1, 2], [1, 2], [1, 2], [1, 2], [1]]
    nodes = [
        Node(i, len(logs), log, current_term=2) for i, log in enumerate(logs)
    ]
    print(f"5 nodes in term 2, majority {majority(5)}; logs {logs}")
    run_election(nodes, 4)  # times out first, but its log is behind
    print(f"  {roles(nodes)}")
    run_election(nodes, 1)
    print(f"  {roles(nodes)}")

    second = RequestVote(4, 3, LogPosition(2, 2))
    reply = nodes[0].handle_request_vote(second)
    verdict = "grants" if reply.granted else f"refuses ({reply.refusal})"
    print(f"n3 asks n0 for a vote in term 4 too: n0 {verdict}")
    candidate = nodes[2]
    candidate.start_election()
    late = VoteReply(voter=0, term=4, granted=True)
    candidate.handle_vote_reply(late)
    print(
        f"n2 runs for term {candidate.current_term}; a grant from term 4 "
        f"arrives: votes {sorted(candidate.votes)}, not counted"
    )
    for bad in (
        partial(Node, 5, 5),
        partial(Node, 0, 0),
        partial(Node, 0, 3, [2, 1]),
    ):
        try:
            bad()
        except ValueError as error:
            print(f"ValueError: {error}")


# ANCHOR_END: main

if __name__ == "__main__":
    main()
