"""Built-in benchmark types; importing a module registers its type.

Nothing is imported here: ``evaluation.registry`` imports a type's module when it is first asked
for (a cold command scoring one type imports only that type and its libraries).
"""
