"""The fault drill's counting (scripts/drill_count.py): lost, duplicated, resent."""

from scripts.drill_count import percentile, phase_index, tally

A = ("notification", 1, "a@example.go.kr")
B = ("notification", 1, "b@example.go.kr")
C = ("reminder", "3", "c@example.go.kr")


def test_everything_once_is_nothing_lost_nothing_doubled():
    result = tally({A, B}, [(A, "<1@x>"), (B, "<2@x>")])
    assert (result.owed, result.delivered, result.lost) == (2, 2, 0)
    assert (result.duplicates, result.same_id_resends, result.unexpected) == (0, 0, 0)


def test_an_owed_key_that_never_arrives_is_lost():
    result = tally({A, B, C}, [(A, "<1@x>")])
    assert result.lost == 2
    assert sorted(result.lost_keys, key=repr) == sorted([B, C], key=repr)


def test_a_second_copy_with_a_new_message_id_is_a_duplicate():
    result = tally({A}, [(A, "<1@x>"), (A, "<2@x>"), (A, "<3@x>")])
    assert (result.delivered, result.duplicates, result.same_id_resends) == (1, 2, 0)
    assert result.duplicate_keys == [A]


def test_a_resend_with_the_same_message_id_is_counted_apart():
    # The crash window: the SMTP server accepted it, the sender never heard back.
    result = tally({A}, [(A, "<1@x>"), (A, " <1@x> ")])
    assert (result.duplicates, result.same_id_resends) == (0, 1)


def test_both_kinds_of_copies_on_one_key():
    result = tally({A}, [(A, "<1@x>"), (A, "<1@x>"), (A, "<2@x>")])
    assert (result.duplicates, result.same_id_resends) == (1, 1)


def test_mail_without_message_id_can_never_be_folded():
    result = tally({A}, [(A, None), (A, None)])
    assert (result.duplicates, result.same_id_resends) == (1, 0)


def test_mail_to_someone_not_owed_it_is_unexpected_and_untracked_mail_is_ignored():
    result = tally({A}, [(A, "<1@x>"), (B, "<2@x>"), (B, "<3@x>"), (None, "<4@x>")])
    assert (result.unexpected, result.duplicates) == (2, 0)
    assert result.unexpected_keys == [B]


def test_optional_keys_are_neither_lost_nor_unexpected_but_can_be_duplicated():
    assert tally({A}, [(A, "<1@x>")], optional={B}).lost == 0
    result = tally({A}, [(A, "<1@x>"), (B, "<2@x>"), (B, "<3@x>")], optional={B})
    assert (result.owed, result.unexpected, result.duplicates) == (1, 0, 1)


def test_nearest_rank_percentile():
    assert percentile([], 0.95) == 0
    assert percentile([5.0], 0.5) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.95) == 95
    assert percentile(values, 1.0) == 100


PHASES = [(0.0, False), (10.0, True), (30.0, False), (40.0, True), (60.0, False)]


def test_a_request_counts_in_the_phase_it_started_in():
    assert phase_index(2.0, 1.0, PHASES) == 0
    assert phase_index(12.0, 25.0, PHASES) == 1  # slow, but it started in the fault
    assert phase_index(65.0, 1.0, PHASES) == 4


def test_a_request_in_flight_when_a_fault_begins_counts_in_the_fault():
    assert phase_index(9.5, 1.0, PHASES) == 1
    assert phase_index(29.0, 20.0, PHASES) == 3  # through the calm phase into the next fault
    assert phase_index(35.0, 30.0, PHASES) == 3  # a calm phase beginning is no reason to move


def test_a_request_before_the_first_phase_counts_in_none():
    assert phase_index(-3.0, 10.0, PHASES) == -1
