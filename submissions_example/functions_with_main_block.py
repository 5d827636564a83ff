"""
Multiprocessing Assignment -- Erin

Q1. What is multiprocessing in python? Why is it useful?
Multiprocessing lets one Python program run several processes side by side. Each process gets
its own interpreter, so the work really happens in parallel on different CPU cores and
CPU-heavy code finishes faster.

Q2. What are the differences between multiprocessing and multithreading?
Threads run inside one process and share its memory, and the GIL lets only one of them run
Python code at a time, so they help with I/O-bound work. Processes each have their own separate
memory and run truly in parallel, which suits CPU-bound work but costs more to start.

Q4. What is a multiprocessing pool in python? Why is it used?
A pool is a group of worker processes that are created once and reused. You give it a function
and a list of inputs (pool.map) and it distributes the tasks among the workers in parallel.
"""
import multiprocessing
import os


# Q3. Create a process
def q3_worker():
    print(f"Worker process ID: {os.getpid()}")


def q3():
    p = multiprocessing.Process(target=q3_worker)
    p.start()
    p.join()


# Q5. Pool of workers
def square(x):
    return x * x


def q5():
    with multiprocessing.Pool(3) as pool:
        print("Squares:", pool.map(square, [1, 2, 3, 4, 5]))


# Q6. Four processes, four numbers
def say(n):
    print("I am number", n)


def q6():
    procs = [multiprocessing.Process(target=say, args=(n,)) for n in (7, 8, 9, 10)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()


if __name__ == "__main__":
    q3()
    q5()
    q6()
