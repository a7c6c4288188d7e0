"""create_model checks that the architecture takes the dataset's inputs, without side effects."""

from __future__ import annotations

import pytest
import torch

from smoothcert.errors import UserError
from smoothcert.models import create_model
from smoothcert.models.small import lenet


def test_an_architecture_too_big_for_the_input_is_a_user_error_naming_those_that_fit() -> None:
    with pytest.raises(UserError) as info:  # LeNet's two 5x5 convolutions and pools need at least 16x16
        create_model("lenet", 10, (1, 8, 8))
    prefix = ("architecture 'lenet' does not fit inputs of shape (1, 8, 8): one such input does not pass through it "
              "to 10 logits; architectures that fit: ")
    assert str(info.value).startswith(prefix)
    fit = str(info.value).removeprefix(prefix).split(", ")  # other tests of a session register test_* models
    assert [name for name in fit if not name.startswith("test_")] == [
        "cifar_resnet110", "cifar_resnet20", "cifar_resnet56", "digits_cnn", "mlp"]  # not lenet, not resnet50
    for name in ("cifar_resnet20", "digits_cnn", "mlp"):
        assert create_model(name, 10, (1, 8, 8))(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_a_builder_user_error_is_passed_on() -> None:
    with pytest.raises(UserError, match="resnet50"):  # needs 3 channels (or torchvision): its own message
        create_model("resnet50", 10, (1, 8, 8))


def test_the_check_draws_no_random_numbers_and_leaves_modes_and_buffers_as_built() -> None:
    torch.manual_seed(3)
    built = torch.nn.Sequential(torch.nn.Identity(), lenet(10, (1, 28, 28)))  # the builder alone, no check
    after_builder = torch.rand(4)
    torch.manual_seed(3)
    checked = create_model("lenet", 10, (1, 28, 28))
    torch.testing.assert_close(torch.rand(4), after_builder)  # same stream afterwards: the forward drew nothing
    torch.testing.assert_close(checked[1].state_dict(), built[1].state_dict())
    assert all(module.training for module in checked.modules())
    resnet = create_model("cifar_resnet20", 10, (3, 32, 32))
    assert all(module.training for module in resnet.modules())
    bn = resnet[1].bn1
    torch.testing.assert_close(bn.running_mean, torch.zeros(16))  # eval-mode forward: statistics untouched
    assert int(bn.num_batches_tracked) == 0
