#!/usr/bin/env python3
"""Prints a scheduling-suggestions request shaped like the operations bench's
reference plan: 100 actions, 300 distinct dependencies (each on an earlier
action), 5 people with 4 days off each, a team capacity of 150 h/week and one
critical deadline. Seeded: the same request every run."""
import datetime
import json
import random

rng = random.Random(7)
today = datetime.date.today()
people = [{"personId": f"person-{p}", "hoursPerWeek": 30 + 2 * p,
           "unavailableDates": [(today + datetime.timedelta(days=7 * k + p)).isoformat()
                                for k in range(4)]} for p in range(5)]
edges = set()
while len(edges) < 300:
    to = rng.randint(1, 99)
    edges.add((to, rng.randint(0, to - 1)))
actions = []
for i in range(100):
    actions.append({"id": f"action-{i:03d}", "title": f"Work package {i}",
                    "estimatedDuration": rng.randint(4, 40),
                    "dependencies": sorted(f"action-{j:03d}" for (t, j) in edges if t == i),
                    "assignedTo": f"person-{rng.randint(0, 4)}",
                    "priority": rng.choice(["low", "medium", "high", "critical"])})
print(json.dumps({"actions": actions, "constraints": {
    "teamCapacity": 150, "teamAvailability": people,
    "criticalDeadlines": [{"date": (today + datetime.timedelta(days=90)).isoformat(),
                           "description": "Work package 99 delivered"}]}}))
