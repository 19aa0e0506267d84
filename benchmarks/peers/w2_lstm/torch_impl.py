"""W2 DeepRNN in plain PyTorch on the CPU: four `nn.LSTM` layers (each one fused over the
whole sequence, as a PyTorch user writes it) with `nn.Dropout(0.2)` after each and an
`nn.Linear` readout; the same weights and loss as `jax_impl.py` (PyTorch's gate order is
(i, f, g, o), its weights are the transposes, and its two biases are the bias and 0).
"""

import sys

sys.path.insert(0, __import__("pathlib").Path(__file__).resolve().parents[1].as_posix())
import _common as C  # noqa: E402

args = C.parse_args(__doc__)

import torch  # noqa: E402

torch.set_num_threads(args.threads)


class DeepRNN(torch.nn.Module):
    def __init__(self, s, data):
        super().__init__()
        sizes = s["sizes"]
        self.lstms = torch.nn.ModuleList(
            torch.nn.LSTM(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.drop = torch.nn.Dropout(s["p_drop"])
        self.out = torch.nn.Linear(sizes[-1], s["n_out"])
        t = lambda a: torch.from_numpy(a.copy())  # noqa: E731
        with torch.no_grad():
            for k, lstm in enumerate(self.lstms):
                lstm.weight_ih_l0.copy_(t(data[f"w_ih{k}"].T))
                lstm.weight_hh_l0.copy_(t(data[f"w_hh{k}"].T))
                lstm.bias_ih_l0.copy_(t(data[f"b{k}"]))
                lstm.bias_hh_l0.zero_()
            self.out.weight.copy_(t(data["w_out"].T))
            self.out.bias.copy_(t(data["b_out"]))

    def forward(self, x):
        for lstm in self.lstms:
            x, _ = lstm(x)
            x = self.drop(x)
        return self.out(x)


def main():
    s = C.SIZES["w2_lstm"][args.size]
    data = C.load_data(args, "w2_lstm")
    torch.manual_seed(args.seed)
    x = torch.from_numpy(data["x"])
    y = torch.from_numpy(data["y"]).long()
    net = DeepRNN(s, data)
    opt = torch.optim.Adam(net.parameters(), lr=s["lr"])
    loss_f = torch.nn.CrossEntropyLoss()
    net.eval()
    with torch.no_grad():
        loss0_eval = loss_f(net(x)[-1], y).item()
    net.train()

    def one():
        opt.zero_grad()
        loss = loss_f(net(x)[-1], y)
        loss.backward()
        opt.step()
        return loss.item()

    m = C.time_training(one, s["steps"])
    C.emit("w2_lstm", "torch", dict(m, loss0_eval=loss0_eval, peak_rss_mb=C.peak_rss_mb()),
           mods=("torch",), notes=f"torch threads: {torch.get_num_threads()}")


main()
