QUESTION:-1. What is multiprocessing in python? Why is it useful?
Multiprocessing in Python means running work in several separate processes, each with its own interpreter and memory, so they can execute in parallel on different CPU cores. It is useful for CPU-bound jobs because it sidesteps the GIL and finishes heavy computations sooner.

QUESTION:-2. What are the differences between multiprocessing and multithreading?
A process has its own memory space and its own interpreter, while threads live inside one process and share its memory. Processes give true parallelism for CPU-bound work but cost more to create; threads are lightweight and suit I/O-bound tasks, but the GIL lets only one of them run Python code at a time and shared data needs locks.

QUESTION:-3. Write a python code to create a process using the multiprocessing module.
import multiprocessing

def greet(name):
    print("hello from the child,", name)

if __name__ == "__main__":
    child = multiprocessing.Process(target=greet, args=("sam",))
    child.start()
    child.join()
    print("child finished with exit code", child.exitcode)

QUESTION:-4. What is a multiprocessing pool in python? Why is it used?
A multiprocessing pool is a fixed group of worker processes that the Pool class creates once and then reuses. You hand it a function and many inputs (with map or apply_async) and it spreads the tasks over the workers in parallel, collects the results, and saves you from managing each process yourself.

QUESTION:-5. How can we create a pool of worker processes in python using the multiprocessing module?
import multiprocessing

def square(x):
    return x * x

if __name__ == "__main__":
    with multiprocessing.Pool(4) as pool:
        print(pool.map(square, [1, 2, 3, 4, 5]))

QUESTION:-6. Write a python program to create 4 processes, each process should print a different number using the multiprocessing module in python.
import multiprocessing

def say(number):
    print("my number is", number)

if __name__ == "__main__":
    workers = [multiprocessing.Process(target=say, args=(n,)) for n in (5, 6, 7, 8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
