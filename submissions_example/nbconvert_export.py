#!/usr/bin/env python
# coding: utf-8

# Q1. What is multiprocessing in python? Why is it useful?
# 
# With the multiprocessing module a program starts extra processes that run at the same time on multiple cores. Every process has its own interpreter and GIL, so number crunching really happens in parallel, which makes CPU-heavy programs faster and keeps one crash from stopping the others.

# Q2. What are the differences between multiprocessing and multithreading?
# 
# Threads of one program share the same memory, so they are cheap to start and easy to share data between, but the global interpreter lock keeps them from running Python code in parallel. Separate processes each get their own memory, communicate through queues or pipes, and can use every core.

# Q3. Write a python code to create a process using the multiprocessing module.

# In[1]:


import multiprocessing

def greet(name):
    print("hello from the child,", name)

if __name__ == "__main__":
    child = multiprocessing.Process(target=greet, args=("sam",))
    child.start()
    child.join()
    print("child finished with exit code", child.exitcode)


# Q4. What is a multiprocessing pool in python? Why is it used?
# 
# Pool keeps several worker processes alive and feeds them tasks from a queue. It is used when the same function has to run on many inputs: pool.map splits the inputs among the workers so they are handled in parallel, and the results come back in order without creating a process per item.

# Q5. How can we create a pool of worker processes in python using the multiprocessing module?

# In[2]:


from concurrent.futures import ProcessPoolExecutor

def shout(word):
    return word.upper()

if __name__ == "__main__":
    with ProcessPoolExecutor(max_workers=2) as executor:
        loud = list(executor.map(shout, ["red", "green", "blue"]))
    print(loud)


# Q6. Write a python program to create 4 processes, each process should print a different number using the multiprocessing module in python.

# In[3]:


import multiprocessing

def say(number):
    print("my number is", number)

if __name__ == "__main__":
    workers = [multiprocessing.Process(target=say, args=(n,)) for n in (5, 6, 7, 8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
