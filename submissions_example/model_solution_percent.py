# %% [markdown]
# # Multiprocessing Assignment

# %% [markdown]
# Q1. What is multiprocessing in python? Why is it useful?
#
# Multiprocessing in Python means running multiple tasks at once, using different parts of your
# computer's brain (CPU cores). It's useful because it speeds up tasks by doing them
# simultaneously, makes better use of your computer's power, and keeps things running smoothly
# even if one task messes up.

# %% [markdown]
# Q2. What are the differences between multiprocessing and multithreading?
#
# Multiprocessing runs separate processes, each with its own memory space. It's good for
# CPU-bound tasks and ensures isolation but has higher resource overhead.
# Multithreading runs multiple threads within the same process, sharing memory. It's suitable for
# I/O-bound tasks and has lower resource overhead but can lead to concurrency issues like race
# conditions.

# %% [markdown]
# Q3. Write a python code to create a process using the multiprocessing module.

# %%
import multiprocessing
import os


def worker():
    print("Worker process ID:", os.getpid())


if __name__ == "__main__":
    process = multiprocessing.Process(target=worker)
    process.start()
    process.join()
    print("Main process ID:", os.getpid())

# %% [markdown]
# Q4. What is a multiprocessing pool in python? Why is it used?
#
# A multiprocessing pool in Python manages a group of worker processes to execute functions in
# parallel across multiple input values. It's used for efficient parallel execution, resource
# management, and simplified parallelism in Python code.

# %% [markdown]
# Q5. How can we create a pool of worker processes in python using the multiprocessing module?

# %%
def worker_function(x):
    return x * x


if __name__ == "__main__":
    with multiprocessing.Pool(processes=4) as pool:
        inputs = [1, 2, 3, 4, 5]
        results = pool.map(worker_function, inputs)
    print("Results:", results)

# %% [markdown]
# Q6. Write a python program to create 4 processes, each process should print a different number
# using the multiprocessing module in python.

# %%
def print_number(num):
    print("Process ID:", multiprocessing.current_process().pid, "- Number:", num)


if __name__ == "__main__":
    processes = []
    for num in [1, 2, 3, 4]:
        process = multiprocessing.Process(target=print_number, args=(num,))
        processes.append(process)
        process.start()
    for process in processes:
        process.join()
