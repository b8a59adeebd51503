# domain fragment
