# Multiprocessing assignment

# Ans 1: Multiprocessing in Python means running work in several separate processes, each with its own interpreter and memory, so they can execute in parallel on different CPU cores. It is useful for CPU-bound jobs because it sidesteps the GIL and finishes heavy computations sooner.

# Ans 2: A process has its own memory space and its own interpreter, while threads live inside one process and share its memory. Processes give true parallelism for CPU-bound work but cost more to create; threads are lightweight and suit I/O-bound tasks, but the GIL lets only one of them run Python code at a time and shared data needs locks.

# Ans 4: A multiprocessing pool is a fixed group of worker processes that the Pool class creates once and then reuses. You hand it a function and many inputs (with map or apply_async) and it spreads the tasks over the workers in parallel, collects the results, and saves you from managing each process yourself.

import multiprocessing


# Ans 3
def child_task():
    print("child process at work")


def make_process():
    p = multiprocessing.Process(target=child_task)
    p.start()
    p.join()


# Ans 5
def triple(x):
    return 3 * x


def make_pool():
    with multiprocessing.Pool(2) as pool:
        print(pool.map(triple, [1, 2, 3]))


# Ans 6
def say(n):
    print("process says", n)


def four_processes():
    procs = [multiprocessing.Process(target=say, args=(n,)) for n in range(10, 14)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()


if __name__ == "__main__":
    make_process()
    make_pool()
    four_processes()
