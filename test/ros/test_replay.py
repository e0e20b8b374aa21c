"""Live replay through the graph agrees with offline eval-bag on the same bag and model."""

import pytest

from contrastive_vla.data.demos import collect
from contrastive_vla.evaluation.bag_eval import evaluate_bags
from contrastive_vla.model.policy import ClipRTPolicy
from contrastive_vla.ros.live_replay import live_replay

pytestmark = pytest.mark.ros


@pytest.mark.parametrize('model', ['tiny_model', 'tiny_gripper_model'])
def test_live_replay_matches_offline_scores(ros_graph, model, tmp_path, request):
    # the gripper model decides from the finger joints too: live, each frame must be paired
    # with the joint state of its instant (pushing starts by closing the gripper)
    tiny_model = request.getfixturevalue(model)
    bags = tmp_path / 'bags'
    collect(['reach_block', 'push_block_left'], 1, bags, seed=11, workers=1,
            image_size=(64, 64), progress=False, augment=False)
    offline = evaluate_bags([bags], ClipRTPolicy.load(tiny_model), progress=False)
    live = live_replay([bags], tiny_model, rate=2.0)
    assert live['steps'] == offline['steps'] > 0
    assert live['missed_steps'] == 0, live
    assert live['accuracy'] == pytest.approx(offline['accuracy'])
    assert live['direction_accuracy'] == pytest.approx(offline['direction_accuracy'])
    assert not live['partial']
