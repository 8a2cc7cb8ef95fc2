print("runwire")
