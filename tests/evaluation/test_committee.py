"""Committee machines of distinct trained networks (the LEA paper's), beside one network mapped alpha times."""

from __future__ import annotations

import numpy as np
import pytest

from xbarsim.errors import ConfigError
from xbarsim.evaluation import Hardware, evaluate, monte_carlo, transfer
from xbarsim.networks import load_digits, train_wage, wage_inputs, WageConfig

IDEAL = dict(fault_rate=0.0, programming_noise=False, read_noise=False, dac_bits=None, adc_bits=None)


@pytest.fixture(scope="module")
def data():
    return wage_inputs(load_digits(), mean=0.3, std=0.4)


@pytest.fixture(scope="module")
def members(data):
    # member k trained with seed k, as the paper's committees of separately trained solutions
    return [train_wage(data, WageConfig(hidden=32, epochs=8, batch_size=64, seed=k)).network for k in range(3)]


def test_distinct_members_are_mapped_each_with_its_own_weights(data, members):
    hw = Hardware(**IDEAL, strategy="committee", alpha=3, committee_networks="distinct")
    net = transfer(members[0], hw, np.random.default_rng(0), committee=members)
    assert len(net.members) == 3 and net.networks == tuple(members)
    for mapped, m in zip(net.members, members):
        for layer, w in zip(mapped.layers, m.weights):
            np.testing.assert_allclose(layer.effective_weights(), w, atol=1e-12)
    # the members differ (distinct seeds), and they sit on disjoint devices
    assert not np.array_equal(members[0].weights[0], members[1].weights[0])
    occ = [m.occupancy() for m in net.members]
    assert not (occ[0] & occ[1]).any() and not (occ[1] & occ[2]).any()
    # on an ideal chip the committee's prediction is the argmax of the members' mean software logits
    x = data.x_test
    expected = np.argmax(np.mean([m.forward(x) for m in members], axis=0), axis=1)
    np.testing.assert_array_equal(net.predict(x), expected)
    res = evaluate(members[0], data, hw, seed=0, committee=members)
    assert res.hardware_accuracy == pytest.approx(np.mean(expected == data.y_test))
    assert res.software_accuracy == pytest.approx(members[0].accuracy(x, data.y_test))


def test_same_network_variant_is_kept_and_options_are_checked(data, members):
    same = Hardware(**IDEAL, strategy="committee", alpha=2, committee_networks="same")
    res = evaluate(members[0], data, same, seed=0)
    assert res.hardware_accuracy == res.software_accuracy
    distinct = Hardware(**IDEAL, strategy="committee", alpha=2, committee_networks="distinct")
    with pytest.raises(ConfigError, match="needs the 2 members"):
        evaluate(members[0], data, distinct, seed=0)
    with pytest.raises(ConfigError, match="alpha = 2"):
        evaluate(members[0], data, distinct, seed=0, committee=members)
    with pytest.raises(ConfigError, match="'same'"):
        evaluate(members[0], data, same, seed=0, committee=members[:2])
    with pytest.raises(ConfigError, match="strategy 'committee'"):
        evaluate(members[0], data, Hardware(**IDEAL), seed=0, committee=members[:1])


def test_monte_carlo_records_the_committee(data, members):
    hw = Hardware(fault_rate=0.05, strategy="committee", alpha=2, committee_networks="distinct")
    res = monte_carlo(members[0], data, hw, transfers=2, seed=0, committee=members[:2])
    assert len(res.model["committee"]) == 2 and res.correct.shape == (2, data.y_test.size)


def test_committee_options_with_statistical_models_and_energy(data, members):
    from xbarsim.evaluation import DroletCodePerturbation, device_perturbation, monte_carlo_setup

    for model in (device_perturbation(Hardware()), DroletCodePerturbation()):
        with pytest.raises(ConfigError, match="need a Hardware model"):
            monte_carlo(members[0], data, model, transfers=1, seed=0, committee=members[:2])
        with pytest.raises(ConfigError, match="need a Hardware model"):
            monte_carlo_setup(members[0], data, model, committee=members[:2])
    hw = Hardware(**IDEAL, strategy="committee", alpha=3, committee_networks="distinct")
    # the description names every member by content, so a store of other members is refused on resume
    desc = monte_carlo_setup(members[0], data, hw, committee=members)[3]
    from xbarsim.evaluation import network_fingerprint
    assert desc["committee"] == [network_fingerprint(m) for m in members]
    # energy is read from every member's own arrays with its own network's activations: recomputed
    # member by member from the mapping layer's energy on the inputs that member's forward pass gives
    import xbarsim.mapping as mp

    net = transfer(members[0], hw, np.random.default_rng(0), committee=members)
    x = data.x_test[:20]
    labels, energy = net.predict_with_energy(x)
    np.testing.assert_array_equal(labels, net.predict(x))
    by_hand = np.zeros(len(energy))
    for mapped, m in zip(net.members, members):
        def grab(i, a, w, mapped=mapped):
            by_hand[i] += float(mp.layer_read_energy(mapped.layers[i], a, net.inference,
                                                     read_time=hw.read_time).total.sum())
            return mp.run_layer(mapped.layers[i], a, net.inference)
        m.forward(x, layer_fn=grab)
    for i, e in enumerate(energy):
        assert e.energy == pytest.approx(by_hand[i] / x.shape[0], rel=1e-9)
        assert e.n_devices == sum(mapped.layers[i].n_devices for mapped in net.members)
    # the members' activations differ, so reading member 1's arrays with member 0's network would not match
    assert not np.allclose(members[0].forward(x), members[1].forward(x))


def test_statistical_models_refuse_a_layered_network_with_a_config_error(data, members):
    from xbarsim.evaluation import DroletCodePerturbation, monte_carlo_setup
    from xbarsim.networks import Network

    layered = Network.from_mlp(members[0])  # a WAGE network converts bit for bit, wage-relu included
    np.testing.assert_array_equal(layered.forward(data.x_test[:30]), members[0].forward(data.x_test[:30]))
    with pytest.raises(ConfigError, match=r"perturb an MLP \(xbarsim.networks.MLP\); a layered Network, e.g. from "
                                          r"load_onnx even when every layer is dense"):
        monte_carlo_setup(layered, data, DroletCodePerturbation())


def test_same_network_committee_honours_strict_and_g_norm_as_distinct_members_do(members):
    """committee_networks 'same' went through map_committee, which took neither `strict` nor `g_norm`:
    g_norm 'characterized' decoded with the nominal step and greedy placement stayed strict. Mapped
    the same way, one network twice as 'distinct' members and as 'same' give the same transfer."""
    hw = dict(fault_rate=0.2, programming_noise=False, read_noise=False, strategy="committee", alpha=2,
              placement="greedy", strict=False, g_norm="characterized")
    same = transfer(members[0], Hardware(**hw, committee_networks="same"), np.random.default_rng(3))
    distinct = transfer(members[0], Hardware(**hw, committee_networks="distinct"), np.random.default_rng(3),
                        committee=[members[0], members[0]])
    for a, b in zip(same.members, distinct.members, strict=True):
        for la, lb in zip(a.layers, b.layers, strict=True):
            assert (la.config.strict, la.config.g_norm) == (False, "characterized")
            assert la.layout.g_scale == lb.layout.g_scale < la.mapped.g_scale  # stuck devices lower the step
            np.testing.assert_array_equal(la.effective_weights(), lb.effective_weights())
