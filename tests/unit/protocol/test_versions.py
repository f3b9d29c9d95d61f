"""``protocol.versions``: the wire table's helpers."""

from __future__ import annotations


def test_rest_path_encodes_the_task_id_as_one_segment() -> None:
    from a2actl.protocol.versions import rest_path

    tid = "5f0c2a1e-0000-4000-8000-000000000000"
    assert rest_path("/tasks/{id}:cancel", tid) == f"/tasks/{tid}:cancel"
    assert rest_path("/tasks/{id}", "a#b?c=1/d") == "/tasks/a%23b%3Fc%3D1%2Fd"
    assert rest_path("/v1/tasks/{id}", "..") == "/v1/tasks/%2E%2E"
    assert rest_path("/tasks/{id}", "é") == "/tasks/%C3%A9"


def test_join_url_puts_the_path_before_the_query_and_drops_the_fragment() -> None:
    from a2actl.protocol.versions import join_url

    assert join_url("http://h/a2a/rest", "/tasks/1") == "http://h/a2a/rest/tasks/1"
    assert join_url("http://h/a2a/rest/", "/tasks/1") == "http://h/a2a/rest/tasks/1"
    assert join_url("http://h/a2a/rest?key=v", "/message:send") == "http://h/a2a/rest/message:send?key=v"
    assert (
        join_url("http://h/a2a/rest/?key=v&x=/y#frag", "/tasks/1") == "http://h/a2a/rest/tasks/1?key=v&x=/y"
    )
    assert join_url("http://h#frag", "/tasks/1") == "http://h/tasks/1"
