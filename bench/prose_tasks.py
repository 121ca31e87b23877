"""Twenty small programming tasks in prose, each with its tests: a held-out
set in the style of MBPP's easy problems, written for this bench (none comes
from HumanEval). Small models solve some of them, which makes the set useful
where HumanEval is out of their reach: it shows what the loop adds on top of
a model that is right some of the time."""

TASKS = [
    ("count_vowels", "Write a Python function count_vowels(s) that returns how many vowels "
     "(a, e, i, o, u, upper or lower case) the string s contains.",
     ["assert count_vowels('hello') == 2", "assert count_vowels('AEIOU') == 5",
      "assert count_vowels('xyz') == 0", "assert count_vowels('') == 0"]),
    ("reverse_words", "Write a Python function reverse_words(s) that returns the words of the "
     "string s in reverse order, joined by single spaces.",
     ["assert reverse_words('a b c') == 'c b a'", "assert reverse_words('hello') == 'hello'",
      "assert reverse_words('one two') == 'two one'"]),
    ("max_of_three", "Write a Python function max_of_three(a, b, c) that returns the largest "
     "of the three numbers.",
     ["assert max_of_three(1, 2, 3) == 3", "assert max_of_three(9, 2, 3) == 9",
      "assert max_of_three(-1, -5, -3) == -1"]),
    ("is_palindrome", "Write a Python function is_palindrome(s) that returns True if the "
     "string s reads the same forwards and backwards, else False.",
     ["assert is_palindrome('racecar')", "assert not is_palindrome('abc')",
      "assert is_palindrome('')", "assert is_palindrome('a')"]),
    ("sum_even", "Write a Python function sum_even(nums) that returns the sum of the even "
     "numbers in the list nums.",
     ["assert sum_even([1, 2, 3, 4]) == 6", "assert sum_even([]) == 0",
      "assert sum_even([1, 3]) == 0", "assert sum_even([-2, 2]) == 0"]),
    ("factorial", "Write a Python function factorial(n) that returns n! for n >= 0.",
     ["assert factorial(0) == 1", "assert factorial(1) == 1", "assert factorial(5) == 120"]),
    ("celsius_to_fahrenheit", "Write a Python function celsius_to_fahrenheit(c) that converts "
     "a temperature in degrees Celsius to degrees Fahrenheit.",
     ["assert celsius_to_fahrenheit(0) == 32", "assert celsius_to_fahrenheit(100) == 212",
      "assert celsius_to_fahrenheit(-40) == -40"]),
    ("count_words", "Write a Python function count_words(s) that returns the number of "
     "words in the string s, where words are separated by whitespace.",
     ["assert count_words('a b c') == 3", "assert count_words('') == 0",
      "assert count_words('  hello   world ') == 2"]),
    ("fizzbuzz", "Write a Python function fizzbuzz(n) that returns 'Fizz' if n is divisible "
     "by 3, 'Buzz' if by 5, 'FizzBuzz' if by both, and otherwise str(n).",
     ["assert fizzbuzz(3) == 'Fizz'", "assert fizzbuzz(5) == 'Buzz'",
      "assert fizzbuzz(15) == 'FizzBuzz'", "assert fizzbuzz(7) == '7'"]),
    ("unique_sorted", "Write a Python function unique_sorted(xs) that returns the distinct "
     "items of the list xs in ascending order.",
     ["assert unique_sorted([3, 1, 3, 2]) == [1, 2, 3]", "assert unique_sorted([]) == []",
      "assert unique_sorted([5, 5]) == [5]"]),
    ("second_largest", "Write a Python function second_largest(nums) that returns the second "
     "largest distinct number in the list nums.",
     ["assert second_largest([1, 2, 3]) == 2", "assert second_largest([5, 5, 4]) == 4",
      "assert second_largest([10, 20]) == 10"]),
    ("capitalize_words", "Write a Python function capitalize_words(s) that returns s with the "
     "first letter of every space-separated word in upper case.",
     ["assert capitalize_words('hello world') == 'Hello World'",
      "assert capitalize_words('a') == 'A'", "assert capitalize_words('') == ''"]),
    ("digit_sum", "Write a Python function digit_sum(n) that returns the sum of the decimal "
     "digits of the non-negative integer n.",
     ["assert digit_sum(0) == 0", "assert digit_sum(123) == 6", "assert digit_sum(9999) == 36"]),
    ("is_prime", "Write a Python function is_prime(n) that returns True if the integer n is "
     "a prime number, else False.",
     ["assert is_prime(2)", "assert is_prime(13)", "assert not is_prime(1)",
      "assert not is_prime(15)", "assert not is_prime(0)"]),
    ("flatten", "Write a Python function flatten(xss) that takes a list of lists and returns "
     "one list with all their items in order.",
     ["assert flatten([[1, 2], [3]]) == [1, 2, 3]", "assert flatten([]) == []",
      "assert flatten([[], [4]]) == [4]"]),
    ("char_frequency", "Write a Python function char_frequency(s) that returns a dict mapping "
     "each character of the string s to the number of times it occurs.",
     ["assert char_frequency('aab') == {'a': 2, 'b': 1}", "assert char_frequency('') == {}"]),
    ("remove_duplicates", "Write a Python function remove_duplicates(xs) that returns the list "
     "xs without repeated items, keeping the first occurrence of each in order.",
     ["assert remove_duplicates([1, 2, 1, 3, 2]) == [1, 2, 3]",
      "assert remove_duplicates([]) == []", "assert remove_duplicates(['a', 'a']) == ['a']"]),
    ("gcd", "Write a Python function gcd(a, b) that returns the greatest common divisor of "
     "the positive integers a and b.",
     ["assert gcd(12, 18) == 6", "assert gcd(7, 5) == 1", "assert gcd(10, 10) == 10"]),
    ("list_average", "Write a Python function list_average(nums) that returns the average of "
     "the numbers in the non-empty list nums.",
     ["assert list_average([1, 2, 3]) == 2", "assert list_average([5]) == 5",
      "assert list_average([1, 2]) == 1.5"]),
    ("count_upper", "Write a Python function count_upper(s) that returns how many upper-case "
     "letters the string s contains.",
     ["assert count_upper('Hello World') == 2", "assert count_upper('abc') == 0",
      "assert count_upper('ABC') == 3"]),
]


def problems():
    """The tasks as bench problems: prompt, tests, entry point."""
    return [{"task_id": f"prose/{name}", "prompt": prompt, "test": "\n".join(tests) + "\n",
             "entry_point": name, "kind": "asserts"} for name, prompt, tests in TASKS]
