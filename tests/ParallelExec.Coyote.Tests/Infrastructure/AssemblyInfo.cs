// One Coyote TestingEngine at a time: the library keeps a little static state behind locks (e.g. the instruments' gauge
// registry), and Coyote binds a controlled lock to the run that first used it, so two explorations running side by side
// report "lock created in a previous test iteration". Serial runs also keep each exploration's timing predictable.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
