"""Scratch diagnostic (not part of the package; it patches the loop's optimizer class): does an EMA of the
weights roll out better than the raw weights at the demo's budget?
One training run; at each eval step the raw weights and two EMAs are evaluated on the same states."""
import copy, json, sys
from pathlib import Path
import torch
from spatial_forcing.train import loop
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.train.eval_curve import curve_evaluator
from spatial_forcing.utils.dataclass_cli import build_config

data_dir, seed, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
DECAYS = (0.99, 0.998)
cfg = build_config(TrainConfig, {"dataset": data_dir, "out": str(out), "seed": seed,
    "vla_preset": "demo", "vla": {"action_slots": "per_step"}, "align": {"enabled": False}, "steps": 2000,
    "batch_size": 32, "lr": 5e-4,
    "save_every": 1000, "eval_every": 250, "eval_init_states": list(range(25, 45)), "threads": 1})
torch.set_num_threads(1)
state = {"emas": None, "n": 0}
Base = torch.optim.AdamW

class EMAAdamW(Base):
    def step(self, *a, **k):
        r = super().step(*a, **k)
        params = [p for g in self.param_groups for p in g["params"]]
        if state["emas"] is None:
            state["emas"] = {d: [p.detach().clone() for p in params] for d in DECAYS}
        state["n"] += 1
        for d, ema in state["emas"].items():
            dd = min(d, (1 + state["n"]) / (10 + state["n"]))
            torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - dd)
        return r
loop.torch.optim.AdamW = EMAAdamW
results = []
evaluators = {}
def on_eval(step, policy):
    row = {"step": step}
    params = list(policy.parameters())
    for name in ("raw", *DECAYS):
        if name not in evaluators:
            c = copy.deepcopy(cfg); c.out = str(out / f"ev_{name}")
            evaluators[name] = curve_evaluator(c, data_ref[0])
        saved = None
        if name != "raw":
            # the optimizer's params start with the policy's (TrainModule(policy, sf))
            ema = state["emas"][name][: len(params)]
            saved = [p.detach().clone() for p in params]
            with torch.no_grad():
                for p, e in zip(params, ema): p.copy_(e)
        r = evaluators[name](step, policy)
        row[str(name)] = (r["eval/success"], r.get("eval/picked"))
        if saved:
            with torch.no_grad():
                for p, s in zip(params, saved): p.copy_(s)
    results.append(row); print(row, flush=True)
    (out / "ema_results.json").write_text(json.dumps(results, indent=1))
    return {"eval/success": row["raw"][0]}
_orig = loop.build_run
data_ref = []
def build_run(c):
    r = _orig(c); data_ref.append(r[0]); return r
loop.build_run = build_run
loop.train(cfg, on_eval=on_eval)
