# Runs argv[1:] on a new pseudo-terminal (a real terminal for the child: isTTY, line mode) and waits until its
# output contains the text in PROMPT. Then, with ANSWER set, types ANSWER and Enter and reads the output until the
# child exits; without it, closes the terminal (the kernel hangs it up: SIGHUP, reads fail with EIO). Prints
# {"prompted", "code", "signal"} as JSON.
import json, os, pty, sys, time

prompt = os.environ['PROMPT'].encode()
answer = os.environ.get('ANSWER')
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
seen = b''
deadline = time.time() + 60
while prompt not in seen and time.time() < deadline:
    try:
        seen += os.read(fd, 4096)
    except OSError:
        break
prompted = prompt in seen
if answer is not None and prompted:
    os.write(fd, answer.encode() + b'\n')
    while True:
        try:
            if not os.read(fd, 4096):
                break
        except OSError:
            break
os.close(fd)
_, status = os.waitpid(pid, 0)
print(json.dumps({
    'prompted': prompted,
    'code': os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
    'signal': os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
}))
