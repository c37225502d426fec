# Runs argv[1:] on a new pseudo-terminal (a real terminal for the child: isTTY, line mode) and waits until its
# output contains the text in PROMPT. Then, with ANSWER set, types ANSWER and Enter; with HANGUP_AFTER_MS also set,
# closes the terminal that long after answering, else reads the output until the child exits. Without ANSWER it
# closes the terminal at the prompt. Closing it hangs it up: the kernel sends SIGHUP and the child's input ends.
# Prints {"prompted", "code", "signal"} as JSON. Gives up waiting after 40 s (the child is then killed).
import json, os, pty, select, signal, sys, time

prompt = os.environ['PROMPT'].encode()
answer = os.environ.get('ANSWER')
hangup_after = os.environ.get('HANGUP_AFTER_MS')
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
deadline = time.time() + 40


def read_until(done):
    """Reads the terminal until done(seen) or it ends or the deadline passes; returns what was read."""
    seen = b''
    while not done(seen) and time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    return seen


prompted = prompt in read_until(lambda seen: prompt in seen)
if answer is not None and prompted:
    os.write(fd, answer.encode() + b'\n')
    if hangup_after is None:
        read_until(lambda seen: False)
    else:
        time.sleep(int(hangup_after) / 1000)
os.close(fd)
if time.time() >= deadline:
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
print(json.dumps({
    'prompted': prompted,
    'code': os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
    'signal': os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
}))
