"""A prompt is checked once: the parsers read syntax, the prompt type holds the value rules, the video
rules are the pipeline's; clicks keep one shape, (points, labels), from the command line to the pipeline."""
from __future__ import annotations

import numpy as np
import pytest

from sampt.errors import UsageError
from sampt.prompts import (UserObject, gather_objects, objects_from_arguments, parse_box, parse_points,
                           to_object_prompts)
from sampt.types import MAX_OBJECT_ID, Video, check_click_labels


def test_parsers_report_syntax_only():
    points, labels = parse_points("3,4;5,6,0;7,8,2")  # a label 2 is well-formed text: the parser passes it on
    assert points.tolist() == [[3, 4], [5, 6], [7, 8]] and labels.tolist() == [1, 0, 2]
    assert parse_box("9,9,1,1").tolist() == [9, 9, 1, 1]  # an empty box is a value problem, not syntax
    for text in ("a,b", "1", "1,2,3,4"):
        with pytest.raises(UsageError, match="is not x,y or x,y,label"):
            parse_points(text)
    with pytest.raises(UsageError, match="is not x0,y0,x1,y1"):
        parse_box("1,2,3")


@pytest.mark.parametrize("points, boxes, api, message", [
    (["3,4;5,6,2"], [], dict(points=[[3, 4, 1], [5, 6, 2]]),
     r"object 1: clicked points: point labels must be 1 \(positive\) or 0 \(negative\), got \[1(\.0)?, 2(\.0)?\]"),
    (["3,4,0;5,6,0"], [], dict(points=[[3, 4, 0], [5, 6, 0]]), "object 1: clicked points: needs at least one positive click"),
    (["nan,4"], [], dict(points=[[np.nan, 4]]), "object 1: clicked points must be finite"),
    ([], ["9,9,1,1"], dict(box=[9, 9, 1, 1]), r"object 1: box \[9.0, 9.0, 1.0, 1.0\] on frame 0 is empty"),
    ([], ["0,0,inf,3"], dict(box=[0, 0, np.inf, 3]), "object 1: a box is four finite numbers"),
])
def test_the_prompt_type_holds_the_value_rules(points, boxes, api, message):
    with pytest.raises(UsageError, match=message):  # from the command line's text
        objects_from_arguments([], points, boxes, frame=0)
    with pytest.raises(UsageError, match=message):  # the same rule, the same words, through the Python API
        gather_objects(**api)


def test_the_positive_click_rule_is_one_function():
    assert check_click_labels(None, 2).tolist() == [1, 1]
    assert check_click_labels(np.array([0.0, 1.0]), 2).dtype == np.int64
    with pytest.raises(ValueError, match="2 points but 1 labels"):
        check_click_labels([1], 2)
    with pytest.raises(ValueError, match="at least one positive"):
        check_click_labels([0, 0], 2)


def test_clicks_keep_one_shape_from_the_command_line_to_the_pipeline():
    [obj] = objects_from_arguments([], ["frame=1:3,4;5,6,0"], [], frame=0)
    points, labels = obj.value
    assert points.dtype == np.float32 and points.shape == (2, 2) and labels.dtype == np.int64
    video = Video(np.zeros((2, 10, 12, 3), np.uint8))
    [prompt] = to_object_prompts([obj], video)
    assert prompt.frame == 1 and prompt.points is points and prompt.labels is labels


def test_video_rules_are_checked_against_the_video():
    video = Video(np.zeros((2, 10, 12, 3), np.uint8))
    with pytest.raises(UsageError, match="object 1: clicked points: point 0 at .* outside the 12x10 frame"):
        to_object_prompts(objects_from_arguments([], ["30,4"], [], frame=0), video)
    with pytest.raises(UsageError, match=r"object 1: box \[0.0, 0.0, 20.0, 5.0\] on frame 0 lies outside the 12x10"):
        to_object_prompts(objects_from_arguments([], [], ["0,0,20,5"], frame=0), video)
    with pytest.raises(UsageError, match=r"object 1: frame 5 is outside the video \(0..1\)"):
        to_object_prompts(objects_from_arguments([], [], ["frame=5:0,0,2,2"], frame=0), video)


def test_object_ids_stop_at_max_object_id():
    with pytest.raises(UsageError, match=f"at most {MAX_OBJECT_ID} fit in a label map"):
        gather_objects(points=[np.array([[1.0, 1.0]])] * (MAX_OBJECT_ID + 1))
    with pytest.raises(UsageError, match=f"ids are whole numbers 1..{MAX_OBJECT_ID}"):
        UserObject(MAX_OBJECT_ID + 1, 0, "points", (np.ones((1, 2)), None))
