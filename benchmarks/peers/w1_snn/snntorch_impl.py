"""W1 SNN-BPTT in snnTorch (PyTorch, CPU, eager).

The same maths as `jax_impl.py`, written the way an snnTorch user would: `snn.Synaptic`
holds the synaptic current and the membrane (syn = alpha syn + in; mem = beta mem + syn),
so the input is scaled by (1 - beta) to give the exponential-Euler LIF
`V = a_mem V + (1 - a_mem) g`. Reset to zero right after the spike (`reset_delay=False`),
fast-sigmoid surrogate with slope 25. The readout is a `Synaptic` with no reset.
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)

import math  # noqa: E402
import time  # noqa: E402

import snntorch as snn  # noqa: E402
import torch  # noqa: E402
from snntorch import surrogate  # noqa: E402

torch.set_num_threads(args.threads)


class Net(torch.nn.Module):
    def __init__(self, s, w1, w2):
        super().__init__()
        a_syn = math.exp(-s["dt"] / s["tau_syn"])
        self.a_mem = math.exp(-s["dt"] / s["tau_mem"])
        self.a_out = math.exp(-s["dt"] / s["tau_out"])
        self.fc1 = torch.nn.Linear(s["n_in"], s["n_rec"], bias=False)
        self.fc2 = torch.nn.Linear(s["n_rec"], s["n_out"], bias=False)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.from_numpy(w1.T.copy()))
            self.fc2.weight.copy_(torch.from_numpy(w2.T.copy()))
        self.lif = snn.Synaptic(alpha=a_syn, beta=self.a_mem, threshold=s["V_th"],
                                spike_grad=surrogate.fast_sigmoid(slope=25),
                                reset_mechanism="zero", reset_delay=False)
        self.out = snn.Synaptic(alpha=a_syn, beta=self.a_out, reset_mechanism="none")

    def forward(self, x):
        syn1, mem1 = self.lif.reset_mem()
        syn2, mem2 = self.out.reset_mem()
        vos = []
        for t in range(x.shape[0]):
            spk, syn1, mem1 = self.lif((1.0 - self.a_mem) * self.fc1(x[t]), syn1, mem1)
            _, syn2, mem2 = self.out((1.0 - self.a_out) * self.fc2(spk), syn2, mem2)
            vos.append(mem2)
        return torch.stack(vos)


def main():
    s = C.SIZES["w1_snn"][args.size]
    data = C.load_data(args, "w1_snn")
    x = torch.from_numpy(data["x"])
    y = torch.from_numpy(data["y"]).long()
    net = Net(s, data["w1"], data["w2"])
    opt = torch.optim.Adam(net.parameters(), lr=s["lr"])
    loss_f = torch.nn.CrossEntropyLoss()

    def one():
        opt.zero_grad()
        logits = net(x).max(dim=0).values
        loss = loss_f(logits, y)
        loss.backward()
        opt.step()
        return loss.item()

    m = C.time_training(one, s["steps"])
    C.emit("w1_snn", "snntorch", dict(m, peak_rss_mb=C.peak_rss_mb()), mods=("torch", "snntorch"), notes=f"torch threads: {torch.get_num_threads()}")


main()
