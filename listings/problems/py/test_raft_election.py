"""Tests of 4.10 Raft's election core: the RequestVote rules one by one,
vote counting, bad input, and property tests: a voter never grants two
candidates in one term, a stale or repeated vote is never counted, the
up-to-date check is the paper's two rules, and random interleavings of
elections over a lossy, reordering, duplicating network never give a
term two leaders."""

from types import ModuleType
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st


def ask(
    solution: ModuleType, term: int, candidate: int, last: tuple[int, int]
) -> Any:
    return solution.RequestVote(term, candidate, solution.LogPosition(*last))


def test_majority_is_more_than_half(solution: ModuleType) -> None:
    sizes = [1, 2, 3, 4, 5, 6, 7]
    assert [solution.majority(n) for n in sizes] == [1, 2, 2, 3, 3, 4, 4]


def test_a_stale_term_is_refused_and_the_reply_carries_the_newer_term(
    solution: ModuleType,
) -> None:
    voter = solution.Node(1, 3, [1, 2], current_term=5)
    reply = voter.handle_request_vote(ask(solution, 4, 0, (9, 9)))
    assert (reply.granted, reply.term, reply.voter) == (False, 5, 1)
    assert (voter.current_term, voter.voted_for) == (5, None)


def test_a_higher_term_makes_a_leader_step_down_then_vote(
    solution: ModuleType,
) -> None:
    voter = solution.Node(1, 3, [1, 3])
    voter.start_election()  # term 4
    assert voter.handle_vote_reply(solution.VoteReply(0, 4, True))
    assert voter.role is solution.Role.LEADER
    reply = voter.handle_request_vote(ask(solution, 5, 0, (3, 2)))
    assert reply.granted and reply.term == 5
    assert voter.role is solution.Role.FOLLOWER
    assert (voter.current_term, voter.voted_for) == (5, 0)


def test_a_higher_term_is_adopted_even_when_the_vote_is_refused(
    solution: ModuleType,
) -> None:
    voter = solution.Node(1, 3, [1, 3])
    voter.start_election()  # candidate in term 4
    reply = voter.handle_request_vote(ask(solution, 7, 0, (1, 5)))
    assert not reply.granted and reply.term == 7
    assert (voter.role, voter.current_term) == (solution.Role.FOLLOWER, 7)
    assert voter.voted_for is None, "a refusal casts no vote"


def test_one_vote_per_term_a_retry_is_granted_a_new_term_frees_it(
    solution: ModuleType,
) -> None:
    voter = solution.Node(2, 3, [1])
    assert voter.handle_request_vote(ask(solution, 2, 0, (1, 1))).granted
    refused = voter.handle_request_vote(ask(solution, 2, 1, (1, 1)))
    assert not refused.granted
    assert refused.refusal == "already voted for n0"
    assert voter.handle_request_vote(ask(solution, 2, 0, (1, 1))).granted
    assert voter.handle_request_vote(ask(solution, 3, 1, (1, 1))).granted
    assert voter.voted_for == 1


def test_a_candidate_has_voted_for_itself(solution: ModuleType) -> None:
    node = solution.Node(0, 3, [1], current_term=1)
    request = node.start_election()
    assert (request.term, request.candidate) == (2, 0)
    assert not node.handle_request_vote(ask(solution, 2, 1, (1, 1))).granted


def test_up_to_date_compares_last_term_before_length(
    solution: ModuleType,
) -> None:
    def pos(term: int, index: int) -> Any:
        return solution.LogPosition(term, index)

    assert pos(3, 2).at_least_as_up_to_date_as(pos(2, 9))
    assert not pos(2, 9).at_least_as_up_to_date_as(pos(3, 2))
    assert pos(2, 5).at_least_as_up_to_date_as(pos(2, 4))
    assert not pos(2, 4).at_least_as_up_to_date_as(pos(2, 5))
    assert pos(2, 4).at_least_as_up_to_date_as(pos(2, 4))
    assert solution.LogPosition.of([]) == pos(0, 0)
    assert solution.LogPosition.of([1, 1, 3]) == pos(3, 3)


def test_the_voter_refuses_a_candidate_whose_log_is_behind(
    solution: ModuleType,
) -> None:
    voter = solution.Node(1, 3, [1, 1, 2])
    shorter = voter.handle_request_vote(ask(solution, 3, 0, (2, 2)))
    older = voter.handle_request_vote(ask(solution, 3, 0, (1, 7)))
    assert not shorter.granted and not older.granted
    assert older.refusal == "log behind (term 2, index 3)"
    # Without the election restriction the same request is granted.
    restriction_off = voter.handle_request_vote(
        ask(solution, 3, 0, (1, 7)), False
    )
    assert restriction_off.granted


def test_votes_count_once_and_only_for_the_current_term(
    solution: ModuleType,
) -> None:
    reply = solution.VoteReply
    node = solution.Node(0, 5, [1], current_term=1)
    node.start_election()  # term 2, votes {0}
    assert not node.handle_vote_reply(reply(1, 2, True))
    assert not node.handle_vote_reply(reply(1, 2, True)), "a duplicate"
    assert not node.handle_vote_reply(reply(2, 1, True)), "a stale term"
    assert not node.handle_vote_reply(reply(3, 2, False)), "a refusal"
    assert node.votes == {0, 1}
    assert node.role is solution.Role.CANDIDATE
    assert node.handle_vote_reply(reply(4, 2, True)), "the third of five"
    assert node.role is solution.Role.LEADER
    assert not node.handle_vote_reply(reply(2, 2, True)), "already won"


def test_a_reply_with_a_higher_term_ends_the_candidacy(
    solution: ModuleType,
) -> None:
    node = solution.Node(0, 3, [1], current_term=1)
    node.start_election()
    assert not node.handle_vote_reply(solution.VoteReply(1, 5, False))
    assert (node.role, node.current_term) == (solution.Role.FOLLOWER, 5)
    assert not node.handle_vote_reply(solution.VoteReply(2, 5, True))


def test_a_one_node_cluster_elects_itself(solution: ModuleType) -> None:
    node = solution.Node(0, 1)
    node.start_election()
    assert (node.role, node.current_term) == (solution.Role.LEADER, 1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: s.Node(0, 0), "at least 1 server, not 0"),
        (lambda s: s.Node(3, 3), "node id 3 is outside a cluster of 3"),
        (lambda s: s.Node(-1, 3), "node id -1 is outside"),
        (lambda s: s.Node(0, 3, [0]), "log entry 1 has term 0"),
        (lambda s: s.Node(0, 3, [1, 3, 2]), "log entry 3 has term 2"),
        (
            lambda s: s.Node(0, 3).handle_vote_reply(s.VoteReply(7, 0, True)),
            "vote from n7, not in the cluster",
        ),
    ],
)
def test_bad_input_is_a_value_error(
    solution: ModuleType, make: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make(solution)


def test_a_cluster_size_must_be_an_int(solution: ModuleType) -> None:
    with pytest.raises(TypeError, match="cluster size must be an int"):
        solution.majority(2.5)


# --- Property tests ---------------------------------------------------

positions = st.tuples(st.integers(0, 4), st.integers(0, 4))
requests = st.tuples(st.integers(0, 6), st.integers(0, 4), positions)


@settings(max_examples=200)
@given(
    log=st.lists(st.integers(1, 3), max_size=4).map(sorted),
    sequence=st.lists(requests, max_size=40),
    restriction=st.booleans(),
)
def test_a_voter_never_grants_two_candidates_in_one_term(
    solution: ModuleType,
    log: list[int],
    sequence: list[tuple[int, int, tuple[int, int]]],
    restriction: bool,
) -> None:
    voter = solution.Node(0, 5, log)
    granted_in: dict[int, int] = {}
    for term, candidate, last in sequence:
        reply = voter.handle_request_vote(
            ask(solution, term, candidate, last), restriction
        )
        assert reply.term == voter.current_term >= term
        if reply.granted:
            assert reply.term == term, "a vote is only ever for the asked term"
            assert granted_in.setdefault(term, candidate) == candidate
            assert voter.voted_for == candidate


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 4), st.booleans()),
        max_size=30,
    )
)
def test_only_distinct_current_term_grants_are_counted(
    solution: ModuleType, replies: list[tuple[int, int, bool]]
) -> None:
    node = solution.Node(0, 5, current_term=1)
    node.start_election()  # term 2
    voters, stepped_down = {0}, False
    for voter, term, granted in replies:
        won = node.handle_vote_reply(solution.VoteReply(voter, term, granted))
        if term > 2:
            stepped_down = True
        was_short = len(voters) < 3
        if not stepped_down and term == 2 and granted:
            voters.add(voter)
        # The oracle: leader at the first moment 3 distinct voters granted
        # in term 2, before any newer term was seen.
        assert won == (not stepped_down and was_short and len(voters) >= 3)
    expected = (
        "follower"
        if stepped_down
        else ("leader" if len(voters) >= 3 else "candidate")
    )
    assert node.role.value == expected


@settings(max_examples=200)
@given(positions, positions)
def test_up_to_date_is_the_papers_two_rules(
    solution: ModuleType, a: tuple[int, int], b: tuple[int, int]
) -> None:
    (a_term, a_index), (b_term, b_index) = a, b
    # "If the logs have last entries with different terms, then the log
    # with the later term is more up-to-date. If the logs end with the same
    # term, then whichever log is longer is more up-to-date."
    literal = a_term > b_term if a_term != b_term else a_index >= b_index
    position = solution.LogPosition
    assert position(*a).at_least_as_up_to_date_as(position(*b)) == literal


# A network step is two numbers. The first picks the action: below 15,
# node `first % size` times out and starts an election; otherwise message
# number `second` (modulo how many are in flight) is delivered (15 to 74),
# delivered and kept, so it will arrive again (75 to 84), or dropped.
steps = st.lists(
    st.tuples(st.integers(0, 99), st.integers(0, 9)), min_size=30, max_size=80
)
logs = st.lists(st.sampled_from([[1], [1, 1], [1, 2]]), min_size=5, max_size=5)


# No shrinking: a failing schedule of 30 to 80 steps takes minutes to
# shrink, and the assertion already says which term got two leaders.
@settings(
    max_examples=200,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(size=st.sampled_from([1, 3, 5]), logs=logs, schedule=steps)
def test_no_term_ever_has_two_leaders(
    solution: ModuleType,
    size: int,
    logs: list[list[int]],
    schedule: list[tuple[int, int]],
) -> None:
    nodes = [
        solution.Node(i, size, logs[i], current_term=2) for i in range(size)
    ]
    in_flight: list[tuple[int, Any]] = []  # (recipient, message)
    leader_of: dict[int, int] = {}
    for action, k in schedule:
        if action < 15:
            candidate = nodes[action % size]
            request = candidate.start_election()
            in_flight += [(n.id, request) for n in nodes if n is not candidate]
        elif in_flight:
            k %= len(in_flight)
            recipient, message = in_flight[k]
            if not 75 <= action < 85:  # delivered once, or dropped
                del in_flight[k]
            if action < 85:
                node = nodes[recipient]
                if isinstance(message, solution.RequestVote):
                    reply = node.handle_request_vote(message)
                    in_flight.append((message.candidate, reply))
                else:
                    node.handle_vote_reply(message)
        for node in nodes:
            if node.role is solution.Role.LEADER:
                term = node.current_term
                first = leader_of.setdefault(term, node.id)
                assert first == node.id, (
                    f"n{first} and n{node.id} both lead term {term}"
                )
