"""ReportBoard: reports folded in once from documents, attempts, rung tables."""

from __future__ import annotations

from hpo.reports import ReportBoard


def running(tid, intermediate, attempt=1, state=1):
    return {"tid": tid, "state": state, "attempt": attempt, "misc": {},
            "result": {"status": "running", "intermediate": intermediate}}


def test_a_document_read_again_adds_only_its_new_reports():
    board = ReportBoard()
    board.observe(running(0, [[1, 0.9]]))
    board.observe(running(0, [[1, 0.9], [2, 0.8]]))
    board.observe(running(0, [[1, 0.9], [2, 0.8]]))
    assert board.reports(0) == [(1, 0.9), (2, 0.8)]
    assert board.at_step(2) == {0: 0.8}
    assert board.best(0) == 0.8 and board.previous_step(0) == 1


def test_a_new_attempt_of_a_requeued_trial_replaces_the_old_reports():
    board = ReportBoard()
    board.observe(running(0, [[1, 0.9], [2, 0.8], [3, 0.7]], attempt=1))
    assert board.reached(2) == {0: 0.8}
    board.observe(running(0, [[1, 0.5]], attempt=2))
    assert board.reports(0) == [(1, 0.5)]
    assert board.at_step(3) == {}
    assert board.reached(2) == {}
    assert board.reached(1) == {0: 0.5}


def test_finishing_counts_completed_trials_once_and_sorts_their_losses():
    board = ReportBoard()
    for tid, loss in ((0, 0.3), (1, 0.1), (2, 0.2)):
        done = running(tid, [[4, loss]], state=2)
        done["result"] = {"status": "ok", "loss": loss, "intermediate": [[4, loss]]}
        board.observe(done)
        board.observe(done)
    board.observe(dict(running(3, [[4, 0.0]], state=2),
                       result={"status": "pruned", "loss": 0.0, "intermediate": [[4, 0.0]]}))
    assert board.n_completed == 3
    assert board.completed_at(4) == [0.1, 0.2, 0.3]
    assert board.status(3) == "pruned"


def test_budgets_brackets_and_promotions_are_read_from_misc():
    board = ReportBoard()
    board.observe({"tid": 5, "state": 0, "misc": {"budget": 3, "bracket": 1, "promoted_from": 2},
                   "result": {"status": "new"}})
    assert board.budget == {5: 3} and board.bracket == {5: 1} and board.promoted == {2}
    board.observe({"tid": 5, "state": 2, "misc": {"budget": 3},
                   "result": {"status": "ok", "loss": 0.4, "budget": 3}})
    assert board.budget_results == {3: {5: 0.4}}


def test_finished_documents_are_indexed_at_the_first_question_not_when_read(monkeypatch):
    # A record read only to be looked at (a dashboard over 10,000 trials) must not pay for
    # indexing every report; a pruner's first question folds them in, in order.
    folded = []
    real = ReportBoard._add
    monkeypatch.setattr(ReportBoard, "_add", lambda self, *args: folded.append(args) or real(self, *args))
    board = ReportBoard()
    for tid, loss in enumerate([0.3, 0.1, 0.2]):
        board.observe({"tid": tid, "state": 2, "attempt": 1, "misc": {},
                       "result": {"status": "ok", "loss": loss, "intermediate": [[1, loss + 1], [2, loss]]}})
    assert folded == []
    assert board.n_completed == 3 and board.completed_at(2) == [0.1, 0.2, 0.3]
    assert len(folded) == 6
    board.observe(running(3, [[1, 1.0]]))  # a running trial's document is folded in at once
    assert len(folded) == 7 and board.reports(3) == [(1, 1.0)]
