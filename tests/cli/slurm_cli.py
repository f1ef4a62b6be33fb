#!/usr/bin/python3
"""`normlab slurm` and `normlab status` against a real, throwaway Slurm: munged,
slurmctld and slurmd from Debian's packages, on loopback, started without
systemd in a temporary directory and stopped by PID at the end.

Cases:
  array-requeue  a sweep as a 4-task array plus its merge job; one running task
                 is requeued with `scontrol requeue`. The merged CSVs equal a
                 local `normlab sweep` (time columns aside), the manifest shows
                 the restart, and `normlab status` reports every run done.
  usr1           USR1 sent to a running task's batch shell (`scancel -b
                 --signal=USR1`): normlab abandons its run in flight, nothing
                 partial is kept, the task requeues itself and finishes.

Skipped (exit 77, shown by ctest as skipped) when Slurm cannot start here: not
root, or the packages are missing. Every wait is bounded.
Usage: slurm_cli.py NORMLAB_BIN CASE"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from csv_rows import rows, ledger

BIN = os.path.abspath(sys.argv[1])
CASE = sys.argv[2]
SKIP = 77
DAEMONS = ["munged", "slurmctld", "slurmd", "sbatch", "scontrol", "squeue", "scancel"]

# Runs of a second or so each: long enough to be caught mid-run, short enough
# that the whole grid takes well under a minute on one core.
EXPERIMENT = """\
name = "slurm-{case}"
dataset = "blobs:n=4000,test=500,dim=64,classes=8,noise=2.0,seed=3"
model = "mlp"
widths = "256,256"
norm = ["none", "batch"]
lr = [0.05, 0.2]
batch-size = 64
steps = {steps}
eval-every = 100
seeds = 2
"""


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def fail(msg):
    sys.exit("FAIL: " + msg)


def find(cmd):
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if os.access(os.path.join(d, cmd), os.X_OK):
            return os.path.join(d, cmd)
    return shutil.which(cmd)


def free_port():
    for _ in range(50):
        p = random.randint(20000, 60000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
                return p
            except OSError:
                continue
    fail("no free port")


def wait_for(what, cond, timeout):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = cond()
        if v:
            return v
        time.sleep(0.5)
    fail(f"timed out after {timeout}s waiting for {what}")


class Cluster:
    def __init__(self, root):
        self.root = root
        self.env = dict(os.environ, SLURM_CONF=os.path.join(root, "slurm.conf"))
        self.env.pop("SLURM_JOB_ID", None)
        self.pidfiles = []

    def start(self):
        r = self.root
        munge = os.path.join(r, "munge")
        for d in ("state", "spool", munge):
            os.makedirs(os.path.join(r, d), exist_ok=True)
        os.chmod(r, 0o755)
        os.chmod(munge, 0o755)  # munged's socket directory must be a+x
        key = os.path.join(munge, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        sock = os.path.join(munge, "munge.socket")
        ctld, slurmd = free_port(), free_port()
        with open(os.path.join(r, "slurm.conf"), "w") as f:
            f.write(f"""ClusterName=normlabtest
SlurmctldHost=localhost
SlurmctldPort={ctld}
SlurmdPort={slurmd}
AuthType=auth/munge
AuthInfo=socket={sock},cred_expire=10
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
SlurmdUser=root
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/slurmctld.log
SlurmdLogFile={r}/slurmd.log
JobCompType=jobcomp/filetxt
JobCompLoc={r}/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")
        self.pidfiles = [os.path.join(munge, "munged.pid"), os.path.join(r, "slurmctld.pid"),
                         os.path.join(r, "slurmd.pid")]
        cmds = [[find("munged"), f"--socket={sock}", f"--key-file={key}", f"--pid-file={self.pidfiles[0]}",
                 f"--log-file={munge}/munged.log", f"--seed-file={munge}/seed", "--force"],
                [find("slurmctld"), "-f", self.env["SLURM_CONF"], "-i"],
                [find("slurmd"), "-f", self.env["SLURM_CONF"], "-N", "localhost"]]
        for c in cmds:
            p = subprocess.run(c, env=self.env, capture_output=True, text=True, timeout=30)
            if p.returncode != 0:
                skip(f"{os.path.basename(c[0])} did not start (exit {p.returncode}): {p.stderr.strip()[:300]}")
            time.sleep(0.5)
        wait_for("the node to be idle", lambda: "idle" in self.sh(["sinfo", "-h", "-o", "%T"]), 60)

    def sh(self, args, check=True):
        p = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            fail(f"{' '.join(args)}: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p.stdout

    def stop(self):
        for pf in reversed(self.pidfiles):
            try:
                with open(pf) as f:
                    pid = int(f.read().strip())
                os.kill(pid, signal.SIGTERM)
                for _ in range(40):  # bounded: up to 10 s, then SIGKILL
                    time.sleep(0.25)
                    os.kill(pid, 0)
                os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass

    def job_done(self, job_id):
        """True once job_id (all its array tasks) has left the queue."""
        return self.sh(["squeue", "-h", "-j", str(job_id)], check=False).strip() == ""

    def running_tasks(self, array_id):
        out = self.sh(["squeue", "-h", "-r", "-j", str(array_id), "-t", "R", "-o", "%i"], check=False)
        return [l.strip() for l in out.splitlines() if l.strip()]


def normlab(args, env, expect=0):
    p = subprocess.run([BIN, *args], env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != expect:
        fail(f"normlab {' '.join(args)}: exit {p.returncode}, expected {expect}\n{p.stderr}")
    return p


def same_as_local(tmp, exp, out, env):
    local = os.path.join(tmp, "local")
    normlab(["sweep", exp, "--out", local, "--jobs", "1", "-q"], env)
    for f in ("runs.csv", "curves.csv", "activations.csv", "batchstats.csv"):
        if rows(os.path.join(out, f)) != rows(os.path.join(local, f)):
            fail(f"{f} of the Slurm job differs from a local sweep")


def status_all_done(out, env, n):
    st = json.loads(normlab(["status", out, "--json"], env).stdout)
    if st["counts"]["done"] + st["counts"]["diverged"] != n or st["unfinished_shards"]:
        fail(f"status: {st['counts']}, unfinished {st['unfinished_shards']}")
    return st




def submit(c, tmp, case, tasks, steps):
    exp = os.path.join(tmp, "exp.toml")
    with open(exp, "w") as f:
        f.write(EXPERIMENT.format(case=case, steps=steps))
    out = os.path.join(tmp, "out")
    p = normlab(["slurm", exp, "--out", out, "--tasks", str(tasks), "--submit", "--no-report"], c.env)
    ids = dict(l.split(" ", 1) for l in p.stdout.splitlines() if " " in l)
    return exp, out, ids["arrays"].split()[0], ids["merge"]


def case_array_requeue(c, tmp):
    exp, out, array, merge = submit(c, tmp, "requeue", 4, 1500)
    # Requeue the first task seen running: it restarts and skips what it finished.
    task = wait_for("a running array task", lambda: c.running_tasks(array), 300)[0]
    c.sh(["scontrol", "requeue", task])
    wait_for("the array and merge jobs to finish", lambda: c.job_done(array) and c.job_done(merge), 900)  # 2 loaded cores: minutes
    with open(os.path.join(c.root, "jobcomp.txt")) as f:
        comp = f.read()
    if f"JobId={merge} " not in comp or "JobState=COMPLETED" not in comp.split(f"JobId={merge} ")[1].split("\n")[0]:
        fail(f"merge job {merge} did not complete:\n{comp}")
    same_as_local(tmp, exp, out, c.env)
    with open(os.path.join(out, "manifest.json")) as f:
        shards = json.load(f)["shards"]
    restarts = [s["slurm"]["restart_count"] for s in shards if s.get("slurm")]
    if len(shards) != 4 or max(restarts) < 1:
        fail(f"manifest shards: {len(shards)} records, restart counts {restarts} (expected one >= 1)")
    status_all_done(out, c.env, 8)
    print(f"requeued {task}; restart counts {restarts}")


def case_usr1(c, tmp):
    exp, out, array, merge = submit(c, tmp, "usr1", 1, 3000)
    task = wait_for("the task to run", lambda: c.running_tasks(array), 300)[0]
    # normlab is inside its first run once its ledger says running.
    wait_for("normlab to start its runs",
             lambda: any(r["state"] == "running" for r in ledger(out)), 60)
    time.sleep(1.0)
    c.sh(["scancel", "-b", "--signal=USR1", task])
    rec = wait_for("the interruption to be recorded",
                   lambda: next((r for r in ledger(out) if r["state"] == "interrupted"), None), 60)
    if rec["signal"] != "SIGTERM" or not rec["abandoned"]:
        fail(f"ledger after USR1: {rec}")
    parts = os.path.join(out, "parts")
    for rid in rec["abandoned"]:  # nothing partial of an abandoned run
        left = [f for f in os.listdir(parts) if f.startswith(rid)]
        if left:
            fail(f"abandoned run {rid} left parts {left}")
    wait_for("the requeued task and the merge job to finish", lambda: c.job_done(array) and c.job_done(merge), 900)  # 2 loaded cores: minutes
    final = ledger(out)[0]
    if final["state"] != "finished" or final["preemptions"] != 1 or final["slurm"]["restart_count"] < 1:
        fail(f"ledger after the rerun: {final}")
    same_as_local(tmp, exp, out, c.env)
    status_all_done(out, c.env, 8)
    print(f"USR1 to {task}: abandoned {rec['abandoned']}; rerun finished")


def main():
    if os.geteuid() != 0:
        skip("the throwaway Slurm needs root (munged and slurmd run as root here)")
    missing = [d for d in DAEMONS if not find(d)]
    if missing:
        skip(f"Slurm packages missing ({', '.join(missing)}); scripts/setup.sh installs "
             "slurmctld slurmd slurm-client munge")
    tmp = tempfile.mkdtemp(prefix="normlab-slurm-")
    c = Cluster(os.path.join(tmp, "cluster"))
    try:
        c.start()
        {"array-requeue": case_array_requeue, "usr1": case_usr1}[CASE](c, tmp)
    finally:
        c.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"PASS {CASE}")


main()
